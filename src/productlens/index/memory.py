"""In-memory exact index in plain NumPy: the fake that unit tests of the layers above use.

Registered as the `memory` kind like any backend (see index/__init__.py); it is not kept in a
file, so a catalogue using it rebuilds it from its store whenever it is opened.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Payload, SearchHits, VectorIndex, as_ids, as_pairs, top_k_exact


class MemoryIndex(VectorIndex):
    """Exact search over a dict of rows."""

    kind = "memory"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._rows: dict[int, np.ndarray] = {}

    @classmethod
    def create(cls, kind: str, dim: int, **options: Any) -> "MemoryIndex":
        return cls(dim, **options)

    def add(self, ids: np.ndarray, vectors: np.ndarray, payload: Payload | None = None) -> None:
        ids, vectors = as_pairs(ids, vectors, self.dim)
        for i, v in zip(ids.tolist(), vectors):
            self._rows[i] = v.copy()

    def remove(self, ids: np.ndarray) -> int:
        return sum(self._rows.pop(int(i), None) is not None for i in as_ids(ids))

    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None,
                expression: str | None) -> SearchHits:
        ids = self.ids()
        if allowed_ids is not None:
            ids = ids[np.isin(ids, allowed_ids)]
        vectors = np.stack([self._rows[int(i)] for i in ids]) if len(ids) else np.empty((0, self.dim), np.float32)
        return top_k_exact(queries, ids, vectors, k)

    def ids(self) -> np.ndarray:
        return np.fromiter(self._rows.keys(), dtype=np.int64, count=len(self._rows))

    def __len__(self) -> int:
        return len(self._rows)
