"""Choosing an index kind for a catalogue's size and memory budget, and tuning its search
parameters to a recall target measured against exact search."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import VectorIndexError
from .base import SearchHits, VectorIndex


def tune(index: VectorIndex, queries: np.ndarray, truth: np.ndarray, *, k: int = 10,
         target: float = 0.95, search: Callable[[np.ndarray, int], SearchHits] | None = None) -> dict:
    """Raise efSearch / nprobe (and the re-ranking factor) until the neighbour recall@k vs `truth`
    reaches target.

    `truth` holds the exact top-k ids of `queries` (from an exact index over the same rows).
    `search` is what answers queries in use (default `index.search`), e.g. one that re-ranks the
    index's candidates exactly (rerank.py): the index's parameters are tuned for what it returns.
    Returns the chosen parameters and the recall they reach; the cheapest setting that reaches
    the target wins, or the most thorough one tried if none does.
    """
    search = search or index.search
    result = {"recall": neighbour_recall(search(queries, k).ids, truth)}
    for step in index.search_steps():
        index.set_search_params(**step)
        r = neighbour_recall(search(queries, k).ids, truth)
        result = {**step, "recall": r}
        if r >= target:
            break
    return result


def neighbour_recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k neighbour ids found in the returned top-k (padding
    ignored): how well an approximate index reproduces exact search. Not the retrieval metric
    `evaluation.metrics.recall_at_k`, which asks whether a *relevant* item is in the top k."""
    hits = [len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum()))
            for f, t in zip(found, truth)]
    return float(np.mean(hits)) if hits else 1.0


def choose_kind(n: int, dim: int, budget_bytes: float | None = None) -> str:
    """The index kind for n vectors of dim under a memory budget (None: no limit).

    Exact search up to 50k vectors (a few ms a query); HNSW over full vectors while it fits
    the budget (best recall per ms); HNSW over 8-bit codes next; IVF-PQ when even that does not fit.
    """
    budget = float("inf") if budget_bytes is None else float(budget_bytes)
    flat = n * (4 * dim + 8)
    hnsw = n * (4 * dim + 32 * 2 * 4 * 1.1 + 16)
    hnsw_sq8 = n * (dim + 32 * 2 * 4 * 1.1 + 16)
    if n <= 50_000 and flat <= budget:
        return "faiss-flat"
    if hnsw <= budget:
        return "faiss-hnsw"
    if hnsw_sq8 <= budget:
        return "faiss-hnsw-sq8"
    return "faiss-ivfpq"


def parse_bytes(text: str) -> float:
    """'2GB', '512M', '1.5g', '1000000' -> bytes."""
    units = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30, "t": 2**40, "tb": 2**40}
    value = text.strip().lower().replace("ib", "b")
    num = value.rstrip("kmgtb")
    try:
        return float(num) * units[value[len(num):]]
    except (ValueError, KeyError):
        raise VectorIndexError(f"not a size: {text!r} (try 512MB or 2GB)") from None
