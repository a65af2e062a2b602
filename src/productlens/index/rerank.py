"""Exact re-ranking of approximate hits with full vectors kept outside the index.

A compact index (PCA + PQ/SQ8 codes, ~300 bytes a vector) cannot order near neighbours that
differ by less than its quantisation error, and no efSearch / nprobe can recover that. The full
vectors already sit on disk in the catalogue's SQLite store, so the index only has to put the
true neighbours among its top `depth` candidates: those are read back (a few hundred KB a query)
and scored exactly. Memory stays at the index's bytes per vector.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import SearchHits, empty_hits

VectorsOf = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # ids -> (found ids, their vectors)


def rerank_exact(queries: np.ndarray, hits: SearchHits, vectors_of: VectorsOf, k: int) -> SearchHits:
    """The top-k of each query's candidates in `hits`, rescored by inner product with exact vectors.

    `vectors_of(ids)` returns the ids it found (any order) and their vectors; candidates it does
    not return (deleted meanwhile) are dropped.
    """
    queries = np.ascontiguousarray(queries, np.float32).reshape(len(hits.ids), -1)
    out = empty_hits(len(queries), k)
    wanted = np.unique(hits.ids[hits.ids >= 0])
    if len(wanted) == 0 or k <= 0:
        return out
    found, vectors = vectors_of(wanted)
    found = np.asarray(found, np.int64)
    if len(found) == 0:
        return out
    order = np.argsort(found)
    found, vectors = found[order], np.asarray(vectors, np.float32).reshape(len(found), -1)[order]
    slot = np.clip(np.searchsorted(found, hits.ids), 0, len(found) - 1)
    present = (hits.ids >= 0) & (found[slot] == hits.ids)
    scores = np.einsum("qd,qmd->qm", queries, vectors[slot])
    scores = np.where(present, scores, -np.inf).astype(np.float32)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    n = best.shape[1]
    out.scores[:, :n] = np.take_along_axis(scores, best, axis=1)
    out.ids[:, :n] = np.where(np.isfinite(out.scores[:, :n]), np.take_along_axis(hits.ids, best, axis=1), -1)
    return out
