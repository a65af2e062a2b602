"""What text search and product text vectors need of a catalogue, as operations (not the store).
The catalogue's store provides the first three as they are (tests pass it directly); the engine
adapts the rest (engine/ports.py `TextAdapter`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from ..catalog.records import CalibrationRecord, ModelRecord, Product


class KeywordIndex(Protocol):
    """The full-text index of product fields (FTS5 in the store)."""

    def keyword_matches(self, match: str, weights: Sequence[float], limit: int) -> list[tuple[str, float]]: ...


class TextVectors(Protocol):
    """Product text vectors: which products lack one, reading and writing them."""

    def products_without_text_embedding(self, model: str, product_ids: Sequence[str] | None = None) -> list[str]: ...

    def get_products(self, product_ids: Sequence[str]) -> list[Product]: ...

    def put_text_embeddings(self, model: str, product_ids: Sequence[str], vectors: np.ndarray) -> None: ...

    def text_embeddings(self, model: str) -> tuple[list[str], np.ndarray | None]: ...


class TextVectorsOnWrite(TextVectors, Protocol):
    """The write path's view: also whether every product's text was embedded once with a model."""

    def text_backfilled(self, model: str) -> bool: ...

    def mark_text_backfilled(self, model: str) -> None: ...


class TextSource(KeywordIndex, TextVectors, Protocol):
    """What text search reads (the engine's `TextAdapter`)."""

    @property
    def generation(self) -> int:
        """Changes with every write: search state is rebuilt when it does."""
        ...

    @property
    def active_model(self) -> ModelRecord | None: ...

    def products(self) -> list[Product]: ...

    def image_vectors_by_product(self, model_key: str) -> Iterator[tuple[list[str | None], np.ndarray]]:
        """Batches of the model's image vectors with each one's product (None: deleted meanwhile)."""
        ...

    def get_calibration(self, model_key: str, name: str) -> CalibrationRecord | None: ...
