"""A real catalogue on each index kind: search, remove and reopen agree with exact FAISS."""

from __future__ import annotations

import numpy as np
import pytest
from support import INDEX_SERVERS

from productlens import Catalog
from productlens.index import FaissAnnIndex, kind_entry, list_kinds


@pytest.fixture(params=[kind for kind in list_kinds() if kind != "faiss-flat"])  # every kind against exact FAISS
def kind(request):
    if kind_entry(request.param).remote:
        return request.getfixturevalue(INDEX_SERVERS[request.param])
    return request.param


def test_catalogue_on_each_kind_matches_exact(kind, tiny_catalog_template, tiny_photos_dir, tmp_path):
    with Catalog.open(tiny_catalog_template) as exact:
        products = [p.id for p in exact.list_products()]
        expected = {pid: [h.product.id for h in exact.similar(pid, k=2)] for pid in products}
    path = tmp_path / "shop"
    with Catalog.create(path, index=kind) as catalog:
        catalog.add(tiny_photos_dir)
        assert len(catalog.index.live()) == 9
        for pid in products:
            assert [h.product.id for h in catalog.similar(pid, k=2)] == expected[pid]
        catalog.remove([products[0]])
        assert len(catalog.index.live()) == 6
        assert products[0] not in [h.product.id for h in catalog.similar(products[1], k=3)]
    with Catalog.open(path) as reopened:  # from the saved file, or the server's collection
        live = reopened.index.live()
        assert len(live) == 6
        assert sorted(live.index.ids().tolist()) == sorted(reopened.store.embedding_ids(live.model_key).tolist())


def test_store_is_truth_when_the_index_file_is_stale(tiny_photos_dir, tmp_path):
    """A write the index file never saw (crash between commit and save) is picked up on open."""
    path = tmp_path / "shop"
    with Catalog.create(path, index="faiss-hnsw") as catalog:
        catalog.add(tiny_photos_dir)
        image = catalog.store.get_images()[0].id
        live = catalog.index.live()
        assert isinstance(live.index, FaissAnnIndex)
        catalog.store.delete_images([image])  # committed, index not told
    with Catalog.open(path) as reopened:
        assert image not in reopened.index.live().index.ids()
        assert len(reopened.index.live()) == 8


def test_rebuild_to_another_kind_keeps_every_vector(tiny_catalog):
    with Catalog.open(tiny_catalog) as catalog:
        live = catalog.index.live()
        before = np.sort(live.index.ids())
        live.rebuild("faiss-ivfpq", train_size=4)
        live.save()
        assert np.array_equal(np.sort(live.index.ids()), before)
        assert live.path.exists()
