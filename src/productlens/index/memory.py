"""In-memory exact index in plain NumPy: a test fake for the logic above the index layer."""

from __future__ import annotations

import numpy as np

from .base import SearchHits, VectorIndex, as_ids, empty_hits


class MemoryIndex(VectorIndex):
    kind = "memory"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._rows: dict[int, np.ndarray] = {}

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = self._check(vectors)
        for i, v in zip(as_ids(ids), vectors):
            self._rows[int(i)] = v.copy()

    def remove(self, ids: np.ndarray) -> int:
        return sum(self._rows.pop(int(i), None) is not None for i in as_ids(ids))

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> SearchHits:
        queries = self._check(queries)
        ids = self.ids()
        if allowed_ids is not None:
            ids = ids[np.isin(ids, as_ids(allowed_ids))]
        hits = empty_hits(len(queries), max(k, 0))
        if k <= 0 or len(ids) == 0:
            return hits
        matrix = np.stack([self._rows[int(i)] for i in ids])
        sims = queries @ matrix.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        n = order.shape[1]
        hits.scores[:, :n] = np.take_along_axis(sims, order, axis=1)
        hits.ids[:, :n] = ids[order]
        return hits

    def ids(self) -> np.ndarray:
        return np.fromiter(self._rows.keys(), dtype=np.int64, count=len(self._rows))

    def __len__(self) -> int:
        return len(self._rows)
