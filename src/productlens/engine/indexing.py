"""Rebuilding a catalogue's vector index: as another kind if asked (chosen for the catalogue's
size and a memory budget with `auto`), with an optional PCA reduction, tuned to a recall target."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..catalog.store import CatalogStore
from ..errors import VectorIndexError
from ..index import FaissIndex, VectorIndex, canonical_kind, choose_kind, parse_bytes, tune
from ..index.live import LiveIndex, refuse_remote_reduction

KIND_META = "index_kind"  # store meta: the catalogue's index kind


def rebuild(store: CatalogStore, live: LiveIndex, *, kind: str = "auto", budget: str | None = None,
            recall: float = 0.95, sample: int = 200, reduce_dim: int | None = None, whiten: bool = False,
            rerank: int | None = None) -> dict[str, Any]:
    """Rebuild `live` from every stored embedding; returns what was built (kind, count, dim,
    reduction, re-rank depth, tuning, factory). The caller holds the write lock. Nothing changes
    in the store until the final save, which records kind, reduction and re-rank depth in one
    write (a build killed before it leaves the catalogue on its old index and reduction)."""
    if whiten and not reduce_dim:
        raise VectorIndexError("whitening needs a PCA reduction (--reduce N)")
    budget_bytes = parse_bytes(budget) if budget else None
    n = len(store.embedding_ids(live.model_key))
    chosen = None if kind == "auto" else canonical_kind(kind)
    if reduce_dim and chosen is not None:
        refuse_remote_reduction(chosen)  # before spending time on the fit
    reducer = live.fit_reducer(reduce_dim, whiten=whiten) if reduce_dim else None
    if chosen is None:
        chosen = choose_kind(n, reducer.out_dim if reducer else live.model_dim, budget_bytes)
    built = live.rebuild(chosen, reducer=reducer, whiten=whiten)
    live.set_rerank(rerank)
    result: dict[str, Any] = {"kind": chosen, "count": len(built), "dim": live.dim, "reduce": live.reduction(),
                              "rerank": live.rerank_depth}
    if built.tunable and n:
        result["tuning"] = tune_to_recall(store, live, built, sample, recall)
    live.save({KIND_META: chosen})
    result["factory"] = built.describe().get("factory")
    return result


def tune_to_recall(store: CatalogStore, live: LiveIndex, built: VectorIndex, sample: int, recall: float) -> dict:
    """Tune the search parameters of `built` to `recall`@10 against exact search over the full
    vectors, measured on what a search returns (reduced query, index, exact re-ranking)."""
    exact = FaissIndex(live.model_dim)
    for ids, vectors in store.iter_embeddings(live.model_key):
        exact.add(ids, vectors)
    n = len(exact)
    rng = np.random.default_rng(0)
    picked = rng.choice(exact.ids(), size=min(sample, n), replace=False)
    queries = exact.vectors(picked)
    queries = queries + rng.normal(scale=0.02, size=queries.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = exact.search(queries, min(10, n)).ids
    return tune(built, queries, truth, k=min(10, n), target=recall, search=live.search)
