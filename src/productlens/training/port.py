"""What training needs of a catalogue, as operations (not the store): the engine adapts its
catalogue to this port (engine/ports.py), so training never reads or writes the store itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..catalog.records import ImageRecord, ModelRecord, Product
from ..models.transforms import PreprocessConfig
from ..recognition import Recognizer
from .compare import FoldAnswers


@dataclass
class TrainedVersion:
    """Everything a new model version is made of, before it has a name or a folder (the engine's
    engine/versions.py gives it both and registers it)."""

    backbone: str
    precision: str
    dim: int
    preprocess: PreprocessConfig
    networks: dict[str, Path]  # precision -> exported ONNX file (in a scratch folder)
    proxies: np.ndarray  # product proxies (the classifier used by recognition)
    coarse: np.ndarray  # category proxies
    recipe: str
    metrics: dict[str, Any]
    recognition: dict[str, Any]  # the version's recogniser, stored as its recognition calibration
    validated_on: str  # what that recogniser was fitted on
    meta: dict[str, Any] = field(default_factory=dict)  # the rest of its version.json
    history: list[dict[str, float]] = field(default_factory=list)


class Photo(Protocol):
    """A catalogue photo (`image_id`) or a labelled photo from outside the catalogue (`source`)."""

    product_id: str
    source: str

    @property
    def image_id(self) -> int | None: ...


class BackboneSource(Protocol):
    """Where the off-the-shelf backbone's features are computed from and cached."""

    @property
    def work_dir(self) -> Path:
        """Where training may keep caches (features, cut networks) between runs."""
        ...

    @property
    def model_name(self) -> str:
        """The network the catalogue was created with."""
        ...


class TrainingPort(BackboneSource, Protocol):
    """The catalogue operations training uses."""

    @property
    def active_model(self) -> ModelRecord | None: ...

    def products(self) -> list[Product]: ...

    def images(self) -> list[ImageRecord]: ...

    def image_file(self, image: ImageRecord) -> Path | None: ...

    def photo_groups(self, images: Sequence[ImageRecord], seed: int = 0) -> np.ndarray: ...

    def recognizer(self) -> tuple[Recognizer, dict[str, Any] | None]: ...

    def active_answers(self, classes: Sequence[str], val: Sequence[Photo], gallery: Sequence[Photo],
                       head: dict[str, Any] | None, scale: float) -> tuple[FoldAnswers, np.ndarray] | None:
        """The active model's answers on `val` searched against `gallery`, and which of `val` it
        could embed (engine/versions.py `model_answers`)."""
        ...

    def save_version(self, trained: TrainedVersion) -> str:
        """Save a trained version (not activated); its model key."""
        ...
