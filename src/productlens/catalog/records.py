"""The records the store reads and writes: products, images, model versions, calibrations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Product:
    """A catalogue product; `attributes` holds any other fields (brand, price, ...)."""

    id: str
    title: str
    category: str | None = None
    description: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    image_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImageRecord:
    id: int
    product_id: str
    sha256: str
    source: str | None
    width: int | None
    height: int | None
    format: str | None
    status: str
    notes: str | None
    added_at: str
    captured_at: float | None = None  # when the photo was taken (EXIF), seconds since the epoch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelRecord:
    """An embedding space the catalogue holds vectors for."""

    key: str
    name: str
    version: str
    precision: str
    dim: int
    preprocess: dict[str, Any]
    info: dict[str, Any]
    created_at: str


@dataclass
class NewImage:
    """An image ready to be written: metadata plus its embedding."""

    product_id: str
    sha256: str
    vector: np.ndarray
    source: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    notes: str | None = None
    captured_at: float | None = None


@dataclass
class CalibrationRecord:
    """A number (or table) fitted on one model version's vectors, e.g. a threshold; read only
    with that version. `fitted_on` says on what, `generation` when the catalogue was at."""

    model_key: str
    name: str
    value: dict[str, Any]
    fitted_on: str
    generation: int
    fitted_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
