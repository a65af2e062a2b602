"""What duplicate finding, its thresholds and its review page need of a catalogue, as operations
(not the store): the engine adapts its catalogue to this port (engine/ports.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from ..catalog.records import CalibrationRecord, ImageRecord, ModelRecord, Product
from ..index.base import SearchHits
from ..models import Embedder
from ..results import ProductHit
from ..text.search import TextSearch


class NeighbourIndex(Protocol):
    """The active model's vector index, as duplicates use it."""

    def search(self, vectors: np.ndarray, k: int) -> SearchHits: ...

    def __len__(self) -> int: ...


class DuplicateSource(Protocol):
    """The catalogue operations duplicate finding uses."""

    @property
    def active_model(self) -> ModelRecord | None: ...

    def live_index(self) -> NeighbourIndex | None: ...

    def embedder(self) -> Embedder: ...

    def images(self, product_id: str | None = None) -> list[ImageRecord]: ...

    def image_vectors(self, model_key: str, image_ids: Sequence[int] | None = None,
                      batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches of (image ids, the model's vectors of them)."""
        ...

    def identical_image_pairs(self) -> list[tuple[int, int]]: ...

    def image_products(self, image_ids: Sequence[int]) -> dict[int, str]: ...

    def get_product(self, product_id: str) -> Product: ...

    def search_vector(self, vector: np.ndarray, *, k: int = 10, exclude: Any = ()) -> list[ProductHit]: ...

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
