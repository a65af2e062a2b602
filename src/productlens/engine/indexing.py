"""The catalogue's vector index (`IndexService`, `Catalog.index`): its kind, the active model's
live index, keeping a server index's copy of product fields in step, and rebuilding it: as
another kind if asked (chosen for the catalogue's size and a memory limit with `auto`), with an
optional PCA reduction, tuned to a recall target."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from .. import meta_keys
from ..catalog.store import CatalogStore
from ..errors import NothingEmbeddedError, VectorIndexError
from ..index import FaissIndex, VectorIndex, canonical_kind, choose_kind, is_remote, parse_bytes, tune
from ..index.live import LiveIndex, refuse_remote_reduction
from .active import ActiveModel
from .lifecycle import DEFAULT_INDEX, IndexSaves, WriteLock


def rebuild(store: CatalogStore, live: LiveIndex, saves: IndexSaves, *, kind: str = "auto",
            max_memory: str | None = None, recall: float = 0.95, sample: int = 200, reduce_dim: int | None = None,
            whiten: bool = False, rerank: int | None = None) -> dict[str, Any]:
    """Rebuild `live` from every stored embedding; returns what was built (kind, count, dim,
    reduction, re-rank depth, tuning, factory). The caller holds the write lock. Nothing changes
    in the store until the final save, which records kind, reduction and re-rank depth in one
    write (a build killed before it leaves the catalogue on its old index and reduction)."""
    if whiten and not reduce_dim:
        raise VectorIndexError("whitening needs a PCA reduction (--reduce N)")
    memory_bytes = parse_bytes(max_memory) if max_memory else None
    n = len(store.embedding_ids(live.model_key))
    chosen = None if kind == "auto" else canonical_kind(kind)
    if reduce_dim and chosen is not None:
        refuse_remote_reduction(chosen)  # before spending time on the fit
    reducer = live.fit_reducer(reduce_dim, whiten=whiten) if reduce_dim else None
    if chosen is None:
        chosen = choose_kind(n, reducer.out_dim if reducer else live.model_dim, memory_bytes)
    built = live.rebuild(chosen, reducer=reducer, whiten=whiten)
    live.set_rerank(rerank)
    result: dict[str, Any] = {"kind": chosen, "count": len(built), "dim": live.dim, "reduce": live.reduction(),
                              "rerank": live.rerank_depth}
    if built.tunable and n:
        result["tuning"] = tune_to_recall(store, live, built, sample, recall)
    saves.now(live, {meta_keys.INDEX_KIND: chosen})
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


class IndexService:
    """The catalogue's vector index, for the active model version."""

    def __init__(self, store: CatalogStore, lock: WriteLock, active: ActiveModel, saves: IndexSaves) -> None:
        self.store, self.lock, self.active, self.saves = store, lock, active, saves

    @property
    def kind(self) -> str:
        """The index kind the catalogue uses (faiss-flat, faiss-hnsw, ..., milvus://host:port)."""
        return str(self.store.get_meta(meta_keys.INDEX_KIND, DEFAULT_INDEX))

    def live(self) -> LiveIndex | None:
        """The active model's vector index, opened once and kept in step with the store; None
        while nothing was ever embedded. Vectors passed to it are the model's (it reduces them).
        A stale or damaged index file is rebuilt on open, and saved (engine/active.py)."""
        return self.active.index()

    def info(self) -> dict[str, Any]:
        """Kind, size and parameters of the vector index."""
        live = self.live()
        return live.describe() if live is not None else {"kind": self.kind, "count": 0}

    def rebuild(self, *, kind: str = "auto", max_memory: str | None = None, recall: float = 0.95, sample: int = 200,
                reduce_dim: int | None = None, whiten: bool = False, rerank: int | None = None) -> dict[str, Any]:
        """Rebuild the index from the stored embeddings, as another kind if asked (`auto`: chosen for
        the catalogue's size within `max_memory`, e.g. "2GB"), optionally PCA-reduced, tuned to
        `recall`. The new kind, reduction and index file take effect together, in one store write."""
        live = self.live()
        if live is None:
            raise NothingEmbeddedError()
        with self.lock.hold():
            try:
                return rebuild(self.store, live, self.saves, kind=kind, max_memory=max_memory, recall=recall,
                               sample=sample, reduce_dim=reduce_dim, whiten=whiten, rerank=rerank)
            except BaseException:
                self.active.drop_index()  # opened again as the store has it: the old kind and reduction
                raise

    def fields_changing(self, product_ids: Sequence[str]) -> AbstractContextManager[None]:
        """Wrap writes to product fields: a server index keeps a copy of them to filter on."""
        live = self.live() if is_remote(self.kind) else None
        if live is None:
            return nullcontext()
        return live.fields_changing([p.id for p in self.store.get_products(list(product_ids))])

    def remove(self, image_ids: Sequence[int]) -> None:
        """Take removed images out of the index (the caller holds the write lock)."""
        live = self.live()
        if live is not None and image_ids:
            live.remove(np.asarray(image_ids, dtype=np.int64))
            self.saves.small_write(live)
