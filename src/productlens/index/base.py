"""The vector index interface every backend implements, and the capabilities it declares.

An index maps int64 ids (catalogue image ids) to L2-normalised float32 vectors and answers
inner-product top-k queries, optionally restricted to a set of allowed ids (metadata filters).
The SQLite catalogue is the source of truth; an index is derived state that can be rebuilt.

What a backend can do beyond that is declared as class attributes, so the layer above asks
instead of checking types:

    exact          scores are exact inner products of the stored vectors
    lossy          candidates are scored from compressed codes: worth re-ranking with exact vectors
    server_filter  it keeps each row's product fields (`payload=` of `add`, `fields`) and
                   evaluates a filter expression itself (`expression=` of `search`)
    tunable        `set_search_params` trades speed for recall
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DimensionMismatchError, VectorIndexError

Payload = Sequence[dict[str, Any]]  # per row: the product fields a server filters on


@dataclass
class SearchHits:
    """Top-k result of a batch of queries: rows are queries, -1 ids pad missing hits."""

    scores: np.ndarray  # (nq, k) float32, descending
    ids: np.ndarray  # (nq, k) int64


class VectorIndex(ABC):
    """A similarity index over (id, vector) pairs, inner-product metric."""

    dim: int
    kind: str = "?"
    exact: bool = True
    lossy: bool = False
    server_filter: bool = False
    tunable: bool = False

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray, payload: Payload | None = None) -> None:
        """Add vectors under ids; an id already present is replaced. `payload` (one dict of product
        fields per row) is kept only by `server_filter` backends; others ignore it."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int:
        """Remove ids if present; returns how many were removed."""

    def search(self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None,
               expression: str | None = None) -> SearchHits:
        """Top-k by inner product. `allowed_ids` restricts the candidates (exactly, not post-hoc);
        `expression` is a filter the backend evaluates itself (`server_filter` backends only)."""
        if expression is not None and not self.server_filter:
            raise VectorIndexError(f"a {self.kind} index cannot evaluate a filter expression; pass allowed_ids")
        queries = as_vectors(queries, self.dim)
        if k <= 0:
            return empty_hits(len(queries), 0)
        if allowed_ids is not None and len(allowed_ids) == 0:
            return empty_hits(len(queries), k)
        return self._search(queries, k, None if allowed_ids is None else as_ids(allowed_ids), expression)

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None,
                expression: str | None) -> SearchHits:
        """`search` after its checks: float32 (nq, dim) queries, k > 0, a non-empty allow-list or None."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """Every id in the index, int64."""

    @abstractmethod
    def __len__(self) -> int: ...

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """A boolean mask: which of `ids` the index holds."""
        return np.isin(as_ids(ids), self.ids())

    def load_rows(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace everything with exactly these rows (an index that trains sizes itself for them)."""
        self.remove(self.ids())
        self.add(ids, vectors)

    def compaction_due(self, removing: int) -> bool:
        """True when removing this many rows should rather rebuild the index from exact vectors
        (`load_rows`) than leave tombstones; only backends that keep tombstones say so."""
        return False

    def fields(self, ids: np.ndarray) -> dict[int, dict[str, Any]]:
        """The product fields held for each of `ids` (`server_filter` backends; others hold none)."""
        return {}

    def stored_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """One payload row as this backend would store it, i.e. as `fields` would return it."""
        return dict(fields)

    def set_search_params(self, **params: Any) -> None:
        """Search-time speed/recall parameters (`tunable` backends only)."""
        raise VectorIndexError(f"a {self.kind} index has no search parameters to set")

    def search_steps(self) -> list[dict[str, Any]]:
        """`set_search_params` settings from cheapest to most thorough (empty unless `tunable`)."""
        return []

    def describe(self) -> dict[str, Any]:
        """What `index info` shows about this index."""
        return {"kind": self.kind, "count": len(self)}

    def save(self, path: Path) -> None:
        """Persist atomically (readers see the old file or the new one, never half of one)."""
        raise VectorIndexError(f"a {self.kind} index is not kept in a file")

    def close(self) -> None:
        """Release connections or files (a no-op for in-process indexes)."""


def as_ids(ids: Any) -> np.ndarray:
    """Contiguous int64 ids, flattened."""
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def as_vectors(vectors: Any, dim: int) -> np.ndarray:
    """Contiguous float32 rows of width `dim` (one vector becomes one row)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise DimensionMismatchError(f"vectors have shape {vectors.shape}, this index holds {dim}-d vectors")
    return vectors


def as_pairs(ids: Any, vectors: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated (int64 ids, float32 rows) for `add`: same count, right width."""
    ids, vectors = as_ids(ids), as_vectors(vectors, dim)
    if len(ids) != len(vectors):
        raise VectorIndexError(f"{len(ids)} ids for {len(vectors)} vectors")
    return ids, vectors


def last_of_each(ids: np.ndarray) -> np.ndarray:
    """Positions that keep the last row of every id repeated within one batch (the last wins)."""
    _, last = np.unique(ids[::-1], return_index=True)
    return np.sort(len(ids) - 1 - last)


def empty_hits(nq: int, k: int) -> SearchHits:
    return SearchHits(np.full((nq, k), -np.inf, np.float32), np.full((nq, k), -1, np.int64))


def top_k_exact(queries: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int) -> SearchHits:
    """Brute-force top-k of `queries` over (ids, vectors): what exact backends and filters compute."""
    hits = empty_hits(len(queries), k)
    if len(ids) == 0:
        return hits
    sims = queries @ vectors.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    n = order.shape[1]
    hits.scores[:, :n] = np.take_along_axis(sims, order, axis=1)
    hits.ids[:, :n] = ids[order]
    return hits
