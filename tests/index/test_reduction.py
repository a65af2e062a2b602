"""A catalogue whose index holds PCA-reduced vectors: search, add/remove, reopen, undo."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from productlens import Catalog
from productlens.index.live import DEFAULT_RERANK
from productlens.meta_keys import INDEX_KIND, REDUCER
from productlens.errors import VectorIndexError

DIM = 6  # the tiny catalogue has 9 vectors: a PCA fits at most that many components


def top(shop: Catalog, queries: dict[str, np.ndarray], k: int = 3) -> dict[str, list[str]]:
    return {pid: [h.product.id for h in shop.searcher.vector(q, k=k)] for pid, q in queries.items()}


@pytest.fixture
def queries(tiny_catalog, query_photos) -> dict[str, np.ndarray]:
    with Catalog.open(tiny_catalog) as shop:
        return {pid: shop.searcher.embed_query(photo) for pid, photo in query_photos.items()}


def reduce_index(shop: Catalog, kind: str | None = None, dim: int = DIM):
    live = shop.index.live()
    live.rebuild(kind, reducer=live.fit_reducer(dim))
    live.save({INDEX_KIND: live.kind})  # as Catalog.index.rebuild records it
    return live


def test_reduced_index_finds_the_same_products(tiny_catalog, queries):
    with Catalog.open(tiny_catalog) as shop:
        full = top(shop, queries)
        live = reduce_index(shop)
        assert live.dim == DIM and live.index.dim == DIM and live.model_dim == 1280 and len(live) == 9
        reduced = top(shop, queries)
        assert {pid: r[0] for pid, r in reduced.items()} == {pid: pid for pid in queries}  # top-1 still right
        assert all(set(reduced[pid]) == set(full[pid]) for pid in queries)
        assert shop.info()["index_dim"] == DIM


@pytest.mark.parametrize("kind", ["faiss-flat", "faiss-hnsw"])
def test_add_and_remove_after_a_reduced_build(kind, tiny_catalog, tiny_photos_dir, queries):
    with Catalog.open(tiny_catalog) as shop:
        live = reduce_index(shop, kind)
        shop.remove(["Banana"])
        assert len(live) == 6
        assert "Banana" not in [h.product.id for h in shop.searcher.vector(queries["Banana"], k=3)]
        report = shop.add(tiny_photos_dir / "Banana", product="Banana")
        assert report.added == 3 and len(live) == 9
        assert shop.searcher.vector(queries["Banana"], k=1)[0].product.id == "Banana"
        assert shop.similar("Banana", k=2)[0].product.id != "Banana"


def test_reopen_keeps_the_reducer(tiny_catalog, queries):
    with Catalog.open(tiny_catalog) as shop:
        live = reduce_index(shop, "faiss-hnsw")
        before = top(shop, queries)
        reducer_file = live.reducer_file
        shop.store.set_meta({"index_kind": "faiss-hnsw"})
    assert (tiny_catalog / reducer_file).exists() and reducer_file.startswith("models/")
    meta = json.loads(next((tiny_catalog / "index").glob("*.json")).read_text())
    assert meta["reducer"] == reducer_file and meta["dim"] == DIM and meta["model_dim"] == 1280
    with Catalog.open(tiny_catalog) as shop:
        live = shop.index.live()
        assert live.reducer is not None and live.dim == DIM and live.index.dim == DIM
        assert live.reduction() == {"dim": DIM, "from_dim": 1280, "whiten": False, "file": reducer_file}
        assert top(shop, queries) == before


def test_dropping_the_reduction_goes_back_to_full_vectors(tiny_catalog, queries):
    with Catalog.open(tiny_catalog) as shop:
        full = top(shop, queries)
        reducer_file = reduce_index(shop).reducer_file
        live = shop.index.live()
        live.rebuild(reducer=None)
        live.save()
        assert live.dim == 1280 and live.reducer is None and live.reduction() is None
        assert not (tiny_catalog / reducer_file).exists()
        assert shop.store.get_meta(REDUCER.format(live.model_key)) is None
        assert top(shop, queries) == full
    with Catalog.open(tiny_catalog) as shop:
        assert shop.index.live().dim == 1280


def test_a_new_reducer_replaces_the_old_file(tiny_catalog):
    with Catalog.open(tiny_catalog) as shop:
        first = reduce_index(shop).reducer_file
        live = shop.index.live()
        live.rebuild(reducer=live.fit_reducer(4, whiten=True), whiten=True)
        assert live.dim == 4 and live.reduction()["whiten"] is True
        assert (tiny_catalog / first).exists()  # the store still names it until the rebuild is saved
        live.save()
        assert not (tiny_catalog / first).exists() and (tiny_catalog / live.reducer_file).exists()


def test_index_file_of_another_space_is_rebuilt_not_trusted(tiny_catalog, queries):
    """A crash after the reduction changed but before the index was saved leaves a file built
    in the old space: it is rebuilt from the store (not a DimensionMismatchError)."""
    with Catalog.open(tiny_catalog) as shop:
        full = top(shop, queries)
        live = reduce_index(shop)
        shop.store.delete_meta([REDUCER.format(live.model_key)])  # as if the reduction were undone
    with Catalog.open(tiny_catalog) as shop:
        assert shop.index.live().dim == 1280 and len(shop.index.live()) == 9
        assert top(shop, queries) == full


def test_index_file_of_the_wrong_width_is_rebuilt_and_saved(tiny_catalog, queries, caplog):
    with Catalog.open(tiny_catalog) as shop:
        reduce_index(shop)
        before = top(shop, queries)
    meta_path = next((tiny_catalog / "index").glob("*.json"))
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "dim": 5}))
    with caplog.at_level(logging.WARNING), Catalog.open(tiny_catalog) as shop:
        assert shop.index.live().dim == DIM and top(shop, queries) == before
    assert "holds 5-d vectors but model" in caplog.text and "reduced from 1280" in caplog.text
    assert json.loads(meta_path.read_text())["dim"] == DIM  # saved: the next command does not rebuild again


def test_a_missing_reducer_file_falls_back_to_full_vectors(tiny_catalog, queries, caplog):
    with Catalog.open(tiny_catalog) as shop:
        full = top(shop, queries)
        reducer_file = reduce_index(shop).reducer_file
    (tiny_catalog / reducer_file).unlink()
    with caplog.at_level(logging.WARNING), Catalog.open(tiny_catalog) as shop:
        live = shop.index.live()
        assert live.reducer is None and live.dim == 1280 and "cannot read reducer" in caplog.text
        assert top(shop, queries) == full
        live.rebuild(reducer=None)  # what `index build` without --reduce does: forgets the lost file
        live.save()
        assert shop.store.get_meta(REDUCER.format(live.model_key)) is None


def test_milvus_refuses_a_reduction(tiny_catalog):
    with Catalog.open(tiny_catalog) as shop:
        live = shop.index.live()
        with pytest.raises(VectorIndexError, match="holds full vectors"):
            live.rebuild("milvus://127.0.0.1:1", reducer=live.fit_reducer(DIM))
        assert live.reducer is None and live.kind == "faiss-flat"  # nothing changed


def test_reducer_needs_enough_vectors(tiny_catalog):
    with Catalog.open(tiny_catalog) as shop, pytest.raises(VectorIndexError, match="256-d PCA on 9 vectors"):
        shop.index.live().fit_reducer(256)


def test_reduced_hits_are_rescored_with_the_stores_exact_vectors(tiny_catalog, queries):
    with Catalog.open(tiny_catalog) as shop:
        assert shop.index.live().rerank_depth == 0  # full vectors, exact index: nothing to re-rank
        live = reduce_index(shop)
        assert live.rerank_depth == DEFAULT_RERANK
        ids, vectors = shop.store.embeddings(live.model_key)
        exact = dict(zip(ids.tolist(), (vectors @ queries["Banana"]).tolist()))
        hits = live.search(queries["Banana"], 3)
        assert hits.ids[0].tolist() == sorted(exact, key=exact.get, reverse=True)[:3]
        np.testing.assert_allclose(hits.scores[0], [exact[i] for i in hits.ids[0].tolist()], rtol=1e-5)
        live.set_rerank(0)
        raw = live.search(queries["Banana"], 3)  # cosines in the 6-d space, not the model's
        assert not np.allclose(raw.scores[0], hits.scores[0], atol=1e-3)
    with Catalog.open(tiny_catalog) as shop:
        assert shop.index.live().rerank_depth == 0
        with pytest.raises(VectorIndexError, match=">= 0"):
            shop.index.live().set_rerank(-1)
