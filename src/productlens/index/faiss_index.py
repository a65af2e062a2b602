"""FAISS backend: exact inner-product search over an id-mapped flat index.

Ids are catalogue image ids, so add and remove are incremental (no rebuild). Filters become a
FAISS IDSelector, so a restricted search is exact rather than over-fetch-and-drop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..atomic import atomic_file
from ..errors import VectorIndexError
from .base import Payload, SearchHits, VectorIndex, as_ids, as_pairs, empty_hits


class FaissIndex(VectorIndex):
    """Exact search (IndexIDMap2 over IndexFlatIP); the default backend."""

    kind = "faiss-flat"

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if self._index.d != dim:
            raise VectorIndexError(f"index file holds {self._index.d}-d vectors, expected {dim}")

    @classmethod
    def create(cls, kind: str, dim: int, **options: Any) -> "FaissIndex":
        return cls(dim, **options)

    @classmethod
    def open(cls, kind: str, path: Path, dim: int, mmap: bool = False) -> "FaissIndex":
        return cls.load(path, dim, mmap=mmap)

    def add(self, ids: np.ndarray, vectors: np.ndarray, payload: Payload | None = None) -> None:
        ids, vectors = as_pairs(ids, vectors, self.dim)
        if len(ids) == 0:
            return
        self.remove(ids)
        self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        if len(ids) == 0 or self._index.ntotal == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None,
                expression: str | None) -> SearchHits:
        if self._index.ntotal == 0:
            return empty_hits(len(queries), k)
        params = None if allowed_ids is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed_ids))
        scores, ids = self._index.search(queries, k, params=params)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return SearchHits(scores, ids.astype(np.int64))

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors for ids (VectorIndexError if one is missing)."""
        try:
            return np.stack([self._index.reconstruct(int(i)) for i in as_ids(ids)])
        except RuntimeError as exc:
            raise VectorIndexError(f"id not in index: {exc}") from exc

    def save(self, path: Path) -> None:
        with atomic_file(Path(path), write_errors=(RuntimeError,)) as tmp:  # FAISS's failed fwrite
            faiss.write_index(self._index, str(tmp))

    @classmethod
    def load(cls, path: Path, dim: int, *, mmap: bool = False) -> "FaissIndex":
        flags = faiss.IO_FLAG_MMAP if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            raise VectorIndexError(f"cannot read index file {path}: {exc}") from exc
        return cls(dim, index)
