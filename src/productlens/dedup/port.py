"""What duplicate finding, its thresholds and its review page need of a catalogue, as operations
(not the store): the engine adapts its catalogue to this port (engine/ports.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ..catalog.records import CalibrationRecord, ImageRecord, Product
from ..text.search import TextSearch


class NearCopySpace(Protocol):
    """Image vectors that keep photo-level differences: the off-the-shelf model's, whatever version
    is active (engine/instance.py)."""

    @property
    def key(self) -> str: ...  # the model whose vectors these are (thresholds are stored for it)

    @property
    def draft_size(self) -> int | None: ...

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(image ids, unit vectors) of every catalogue image."""
        ...

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray: ...


class DuplicateSource(Protocol):
    """The catalogue operations duplicate finding uses."""

    def near_copy_space(self) -> NearCopySpace: ...

    def images(self, product_id: str | None = None) -> list[ImageRecord]: ...

    def images_by_id(self, image_ids: Sequence[int]) -> list[ImageRecord]: ...

    def image_bytes(self, image: ImageRecord) -> bytes | None: ...

    def identical_image_pairs(self) -> list[tuple[int, int]]: ...

    def image_products(self, image_ids: Sequence[int]) -> dict[int, str]: ...

    def get_product(self, product_id: str) -> Product: ...

    def text_search(self) -> TextSearch: ...

    def get_calibration(self, model_key: str, name: str) -> CalibrationRecord | None: ...

    def calibrations(self) -> list[CalibrationRecord]: ...

    def save_calibration(self, model_key: str, name: str, value: dict[str, Any], fitted_on: str) -> None:
        """Store a value fitted for a model version (under the catalogue's write lock)."""
        ...


class ReviewSource(Protocol):
    """What the review page reads: image records, products, and each image's bytes."""

    def images_by_id(self, image_ids: Sequence[int]) -> list[ImageRecord]: ...

    def images(self, product_id: str | None = None) -> list[ImageRecord]: ...

    def get_products(self, product_ids: Sequence[str]) -> list[Product]: ...

    def image_bytes(self, image: ImageRecord) -> bytes | None: ...
