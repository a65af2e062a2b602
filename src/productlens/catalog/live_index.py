"""The vector index of one model, kept in step with the SQLite store.

SQLite is the truth; the index file is a cache of it, tagged with the store generation it
reflects. On open, and before each search, a stale index is brought up to date by diffing ids
against the store (only the difference is added or removed), so a crash between a committed
write and an index save costs nothing. Saves are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path

import numpy as np

from ..errors import DimensionMismatchError
from ..index import VectorIndex, create_index, load_index
from ..index.base import SearchHits
from .store import CatalogStore

log = logging.getLogger(__name__)


def _slug(model_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", model_key)


class LiveIndex:
    """A model's index plus the bookkeeping that keeps it consistent with the store."""

    def __init__(self, store: CatalogStore, folder: Path, model_key: str, dim: int, kind: str) -> None:
        self.store, self.model_key, self.dim, self.kind = store, model_key, dim, kind
        self.path = Path(folder) / f"{_slug(model_key)}.{kind}"
        self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
        self._lock = threading.RLock()
        self.generation = -1
        self.index = self._load()
        self.refresh()

    def _load(self) -> VectorIndex:
        if self.path.exists() and self.meta_path.exists():
            meta = json.loads(self.meta_path.read_text())
            if meta.get("dim") != self.dim:
                raise DimensionMismatchError(
                    f"index {self.path} holds {meta.get('dim')}-d vectors but model {self.model_key} makes {self.dim}-d"
                )
            try:
                index = load_index(self.kind, self.path, self.dim)
                self.generation = int(meta.get("generation", -1))
                return index
            except Exception as exc:  # a damaged cache is rebuilt from the store, never trusted
                log.warning("index %s unreadable (%s); rebuilding from the catalogue", self.path, exc)
        return create_index(self.kind, self.dim)

    def refresh(self) -> bool:
        """Bring the index up to the store's generation; returns True if anything changed."""
        with self._lock:
            current = self.store.generation
            if current == self.generation:
                return False
            stored = self.store.embedding_ids(self.model_key)
            present = self.index.ids()
            stale = np.setdiff1d(present, stored, assume_unique=True)
            missing = np.setdiff1d(stored, present, assume_unique=True)
            if len(stale):
                self.index.remove(stale)
            for ids, vectors in self.store.iter_embeddings(self.model_key, missing.tolist()):
                self.index.add(ids, vectors)
            if len(stale) or len(missing):
                log.info("index %s: %d added, %d removed to match the catalogue", self.path.name, len(missing), len(stale))
            self.generation = current
            return bool(len(stale) or len(missing))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            self.index.add(ids, vectors)

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            self.index.remove(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> SearchHits:
        self.refresh()
        with self._lock:
            return self.index.search(queries, k, allowed_ids=allowed_ids)

    def __len__(self) -> int:
        return len(self.index)

    def save(self) -> None:
        """Persist atomically, tagged with the generation it now reflects."""
        with self._lock:
            self.refresh()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.index.save(self.path)
            meta = {"model_key": self.model_key, "dim": self.dim, "kind": self.kind,
                    "generation": self.generation, "count": len(self.index)}
            tmp = self.meta_path.with_name(f".{self.meta_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, self.meta_path)
