"""The detector interface: a `Detection` result and a registry of detectors by name.

    detector = create_detector()                 # the default, shipped with the package
    for d in detector.detect(image): d.box, d.score

Modelled on the embedder registry: modules register a factory under a name at import, callers
only ever name a detector (or pass a file of their own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image

from ..errors import DetectorError

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One product found in a photo: `box` (x0, y0, x1, y1) in the original photo's pixels after
    EXIF orientation, `score` the calibrated probability (0..1) that it is a product."""

    box: Box
    score: float

    def to_dict(self) -> dict[str, object]:
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4)}


class Detector(Protocol):
    """Finds products in an upright RGB photo."""

    name: str

    def detect(self, image: Image.Image, *, max_detections: int = 20, min_score: float | None = None) -> list[Detection]:
        """Boxes best first, at most `max_detections`, none scoring under `min_score` (None: the
        detector's own threshold)."""
        ...


DetectorFactory = Callable[[Path | None], Detector]
_REGISTRY: dict[str, DetectorFactory] = {}
DEFAULT_DETECTOR = "shelf-lite0"


def register_detector(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    """Decorator registering a factory `(path or None) -> Detector` under `name`."""

    def decorate(factory: DetectorFactory) -> DetectorFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def list_detectors() -> list[str]:
    """Registered detector names, sorted."""
    return sorted(_REGISTRY)


def create_detector(name: str = DEFAULT_DETECTOR, path: Path | None = None) -> Detector:
    """The detector registered as `name`, loading its weights from `path` when given (a shop's
    fine-tuned file) else from the package."""
    if name not in _REGISTRY:
        raise DetectorError(f"unknown detector {name!r}; known: {', '.join(list_detectors())}")
    return _REGISTRY[name](path)
