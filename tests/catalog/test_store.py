from __future__ import annotations

import numpy as np
import pytest

from productlens.catalog.store import CatalogStore, ModelRecord, NewImage, Product
from productlens.errors import ProductNotFoundError, StorageError

pytestmark = pytest.mark.fast


@pytest.fixture
def store(tmp_path):
    s = CatalogStore(tmp_path / "catalog.db", create=True)
    for key in ("m", "other-model"):
        s.add_model(ModelRecord(key, "test", "v1", "fp32", 8, {}, {}, "2026-01-01"))
    yield s
    s.close()


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=8).astype(np.float32)


def test_missing_database_is_not_created_on_open(tmp_path):
    with pytest.raises(StorageError, match="no such file"):
        CatalogStore(tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()


def test_upsert_creates_then_updates_and_merges_attributes(store):
    assert store.upsert_products([Product("A", "Apple", "Fruit", None, {"price": "1"})]) == (1, 0)
    assert store.upsert_products([Product("A", "Apple", None, "Crisp", {"brand": "X"})]) == (0, 1)
    assert store.upsert_products([Product("A", "Apple", None, "Crisp", {"brand": "X"})]) == (0, 0)
    a = store.get_product("A")
    assert (a.category, a.description, a.attributes) == ("Fruit", "Crisp", {"price": "1", "brand": "X"})


def test_derived_titles_do_not_overwrite_curated_ones(store):
    store.upsert_products([Product("A", "Granny Smith apple")])
    store.upsert_products([Product("A", "A")], keep_existing_title=True)
    assert store.get_product("A").title == "Granny Smith apple"


def test_images_embeddings_and_cascade_delete(store):
    store.upsert_products([Product("A", "a"), Product("B", "b")])
    ids = store.insert_images([NewImage("A", "h1", vec(1)), NewImage("A", "h2", vec(2)), NewImage("B", "h1", vec(1))], "m")
    assert len(set(ids)) == 3 and min(ids) > 0
    assert store.insert_images([NewImage("A", "h1", vec(1))], "m") == [-1]  # same bytes, same product
    assert store.has_image("A", "h1") and not store.has_image("B", "h2")
    assert sorted(store.products_with_hash("h1")) == ["A", "B"]
    np.testing.assert_array_equal(store.vector_for_hash("h2", "m"), vec(2))
    assert store.vector_for_hash("h2", "other-model") is None
    assert store.get_product("A").image_count == 2
    removed = store.delete_products(["A"])
    assert sorted(removed) == sorted(ids[:2])
    assert store.embedding_ids("m").tolist() == [ids[2]]
    with pytest.raises(ProductNotFoundError):
        store.get_product("A")


def test_every_write_bumps_generation_and_failed_writes_roll_back(store):
    g0 = store.generation
    store.upsert_products([Product("A", "a")])
    assert store.generation == g0 + 1
    with pytest.raises(ProductNotFoundError):
        store.delete_products(["A", "missing"])
    assert store.get_product("A").id == "A"  # the whole delete rolled back
    assert store.generation == g0 + 1


def test_iter_embeddings_in_chunks(store):
    store.upsert_products([Product("A", "a")])
    ids = store.insert_images([NewImage("A", f"h{i}", vec(i)) for i in range(10)], "m")
    chunks = list(store.iter_embeddings("m", batch=4))
    assert [len(c[0]) for c in chunks] == [4, 4, 2]
    got_ids = np.concatenate([c[0] for c in chunks])
    assert got_ids.tolist() == sorted(ids)
    subset = list(store.iter_embeddings("m", ids[:3]))
    np.testing.assert_array_equal(subset[0][1][0], vec(0))


def test_update_product_sets_and_removes_attributes(store):
    store.upsert_products([Product("A", "a", attributes={"price": "1", "brand": "X"})])
    p = store.update_product("A", {"title": "Apple", "attributes": {"price": "2", "brand": None}})
    assert p.title == "Apple" and p.attributes == {"price": "2"}
    with pytest.raises(ProductNotFoundError):
        store.update_product("Z", {"title": "z"})


def test_embeddings_all_at_once(store):
    ids, vectors = store.embeddings("m")
    assert ids.shape == (0,) and vectors.size == 0
    store.upsert_products([Product("A", "a")])
    new = store.insert_images([NewImage("A", f"h{i}", vec(i)) for i in range(5)], "m")
    ids, vectors = store.embeddings("m")
    assert ids.tolist() == sorted(new) and vectors.shape == (5, 8)
    ids, vectors = store.embeddings("m", new[1:3])
    assert sorted(ids.tolist()) == sorted(new[1:3])
    np.testing.assert_array_equal(vectors[ids.tolist().index(new[1])], vec(1))
