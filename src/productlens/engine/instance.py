"""Near-duplicate features: the catalogue's off-the-shelf model's embeddings, whatever version is active.

A trained version pulls a product's photos together on purpose (that is what makes it recognise
the product), so in its space distinct photos of one product look like near-copies. Duplicate
detection and its calibration read the off-the-shelf ("instance") model's vectors instead, which
keep photo-level differences: stored from when that model was active, and embedded once (then
stored) for images added since. Their thresholds are stored for that model, so a version switch
leaves them valid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
from PIL import Image

from ..catalog.store import CatalogStore, ModelRecord
from ..errors import NothingEmbeddedError
from ..models import Embedder
from . import models


def instance_record(store: CatalogStore) -> ModelRecord | None:
    """The active model if off-the-shelf; for a trained version, the catalogue's off-the-shelf
    model of the same network if there is one, else its first off-the-shelf model."""
    active = models.active_record(store)
    if active is None or not active.info.get("onnx"):
        return active
    plain = [m for m in store.list_models() if not m.info.get("onnx")]
    same = [m for m in plain if m.name == active.name]
    return (same or plain or [None])[0]


class InstanceSpace:
    """The instance model's vectors of every catalogue image (dedup.finder.NearCopySpace)."""

    def __init__(self, path: Path, store: CatalogStore, record: ModelRecord,
                 writing: Callable[[], AbstractContextManager[None]]) -> None:
        self.path, self.store, self.record, self.writing = path, store, record, writing
        self._embedder: Embedder | None = None

    @property
    def key(self) -> str:
        return self.record.key

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = models.load_embedder(self.path, self.record.name, self.record.precision, record=self.record)
        return self._embedder

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(image ids, unit vectors) of every image, embedding (and storing) those it lacks first;
        images whose file is gone are left out."""
        if self.store.images_missing_embedding(self.key):
            with self.writing():
                models.embed_missing(self.store, self.path, self.record, allow_missing=True)
        return self.store.embeddings(self.key)

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embedder().embed(list(images))

    @property
    def draft_size(self) -> int | None:
        return self.embedder().draft_size


def instance_space(path: Path, store: CatalogStore, writing: Callable[[], AbstractContextManager[None]]) -> InstanceSpace:
    record = instance_record(store)
    if record is None:
        raise NothingEmbeddedError()
    return InstanceSpace(path, store, record, writing)
