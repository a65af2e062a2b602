"""The vector index interface every backend implements.

An index maps int64 ids (catalogue image ids) to L2-normalised float32 vectors and answers
inner-product top-k queries, optionally restricted to a set of allowed ids (metadata filters).
The SQLite catalogue is the source of truth; an index is derived state that can be rebuilt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DimensionMismatchError, VectorIndexError


@dataclass
class SearchHits:
    """Top-k result of a batch of queries: rows are queries, -1 ids pad missing hits."""

    scores: np.ndarray  # (nq, k) float32, descending
    ids: np.ndarray  # (nq, k) int64


class VectorIndex(ABC):
    """A similarity index over (id, vector) pairs, inner-product metric."""

    dim: int

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ids; an id already present is replaced."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int:
        """Remove ids if present; returns how many were removed."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> SearchHits:
        """Top-k by inner product; `allowed_ids` restricts the candidates (exactly, not post-hoc)."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """Every id in the index, int64."""

    @abstractmethod
    def __len__(self) -> int: ...

    def save(self, path: Path) -> None:
        """Persist atomically (readers see the old file or the new one, never half of one)."""
        raise NotImplementedError(f"{type(self).__name__} is not persistent")

    def _check_pairs(self, ids, vectors) -> tuple[np.ndarray, np.ndarray]:
        """Validated (int64 ids, float32 rows) for add(): same count, right width."""
        ids, vectors = as_ids(ids), self._check(vectors)
        if len(ids) != len(vectors):
            raise VectorIndexError(f"{len(ids)} ids for {len(vectors)} vectors")
        return ids, vectors

    def _check(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise DimensionMismatchError(
                f"vectors have shape {vectors.shape}, this index holds {self.dim}-d vectors"
            )
        return vectors


def as_ids(ids) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def empty_hits(nq: int, k: int) -> SearchHits:
    return SearchHits(np.full((nq, k), -np.inf, np.float32), np.full((nq, k), -1, np.int64))
