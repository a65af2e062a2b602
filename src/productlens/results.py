"""What the engine hands back: plain data, no behaviour beyond describing itself as a dict.

The CLI prints these, the REST API serialises them, and the Python API returns them as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .catalog.store import Product


class ProgressSink(Protocol):
    """What long operations report to; the CLI renders it, the library never prints."""

    def start(self, total: int | None, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


@dataclass
class ProductHit:
    """A product in a result list, scored by its best-matching image."""

    product: Product
    score: float
    image_id: int
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "score": round(self.score, 6), "image_id": self.image_id, **self.product.to_dict()}


@dataclass
class ObjectResult:
    """One product found in a multi-product photo and what the catalogue says about it.

    box: (x0, y0, x1, y1) in the photo's pixels (after EXIF orientation); score: the detector's
    calibrated confidence (0 when nothing was detected and the whole frame was searched instead);
    hits: as `search` returns them; recognition: as `recognize` returns it."""

    box: tuple[float, float, float, float]
    score: float
    hits: list[ProductHit]
    recognition: Recognition
    whole_frame: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4),
                "whole_frame": self.whole_frame, "results": [h.to_dict() for h in self.hits],
                "recognition": self.recognition.to_dict()}


@dataclass
class Recognition:
    """Which product a photo shows, or None for "not in the catalogue". The decision is on the
    probability scale (`confidence` against `threshold`); `score` is the top product's cosine
    similarity (what search shows), never compared with the threshold."""

    product: Product | None
    score: float
    confidence: float
    threshold: float
    category: str | None
    category_confidence: float
    candidates: list[ProductHit]
    calibration: str = ""  # what the confidence model was fitted on (or that it is the default)

    @property
    def known(self) -> bool:
        return self.product is not None

    @property
    def decision(self) -> str:
        """The verdict in words, e.g. "unknown: confidence 0.41 < 0.63 needed (similarity 0.760)"."""
        if not self.candidates and self.product is None:
            return "unknown: nothing in the catalogue to compare with"
        sign = ">=" if self.confidence >= self.threshold else "<"
        verdict = self.product.id if self.product is not None else "unknown"
        return (f"{verdict}: confidence {self.confidence:.2f} {sign} {self.threshold:.2f} needed "
                f"(similarity {self.score:.3f})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.to_dict() if self.product else None,
            "known": self.known,
            "decision": self.decision,
            "similarity": round(self.score, 6),
            "confidence": round(self.confidence, 6),
            "threshold": round(self.threshold, 6),
            "category": self.category,
            "category_confidence": round(self.category_confidence, 6),
            "candidates": [c.to_dict() for c in self.candidates],
            "calibration": self.calibration,
        }


@dataclass
class Skipped:
    """An input an add could not use, with a short machine-readable reason and a message."""

    source: str
    reason: str
    message: str


@dataclass
class IngestReport:
    """What an add did: counts, and every skipped input with its reason."""

    added: int = 0
    duplicates: int = 0
    reused_embeddings: int = 0
    products_created: int = 0
    products_updated: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    # new products left out because not one of their images could be added (missing, not images)
    products_without_images: list[str] = field(default_factory=list)
    # fields of existing products the feed changed (the feed wins): {product, field, old, new}
    overwritten: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether the add fell short: a product left out, or images given and none of them usable."""
        return bool(self.products_without_images) or (bool(self.skipped) and not (self.added or self.duplicates))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ActivationReport:
    """What switching the active model version did (`Catalog.versions.activate`)."""

    key: str
    embedded: int = 0
    reused: int = 0
    missing_sources: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    switched: bool = False
    seconds: float = 0.0
    comparison: dict[str, Any] | None = None  # the new version against the old on validation photos
    recalibrated: list[dict[str, Any]] = field(default_factory=list)  # values refitted (or stale) for it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
