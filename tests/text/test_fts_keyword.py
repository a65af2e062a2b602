"""Keyword search (FTS5): ranking, prefixes, diacritics, and staying in step with every write."""

from __future__ import annotations

import sqlite3

import pytest

from productlens import Catalog
from productlens.catalog.migrations import MIGRATIONS
from productlens.catalog.store import CatalogStore, Product
from productlens.errors import ProductNotFoundError, TextQueryError
from productlens.text.fts import keyword_search, match_expression

pytestmark = pytest.mark.fast


def ids(store, text, **kw):
    return [pid for pid, _ in keyword_search(store, text, **kw)]


@pytest.fixture
def store(tmp_path):
    s = CatalogStore(tmp_path / "catalog.db", create=True)
    s.upsert_products([
        Product("oat", "Oatly Oat Drink", "Oat-Milk", "A natural oat drink, enriched with calcium.", {"brand": "Oatly"}),
        Product("yog", "Natural Yoghurt", "Yoghurt", "Creamy yoghurt made of Swedish milk.", {"brand": "Arla"}),
        Product("cream", "Crème Fraîche", "Sour-Cream", "Thick cultured cream for sauces."),
        Product("milk", "Standard Milk", "Milk", "Fresh cow milk, 3% fat; good with oat porridge.", {"brand": "Arla"}),
    ])
    yield s
    s.close()


def test_bm25_title_match_ranks_first(store):
    # "oat" is in the oat drink's title and only in the milk's description.
    assert ids(store, "oat")[:2] == ["oat", "milk"]
    scores = [s for _, s in keyword_search(store, "oat")]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1] > 0


def test_prefix_diacritics_category_and_attributes(store):
    assert ids(store, "yog") == ["yog"]
    assert ids(store, "yog", prefix=False) == []
    assert ids(store, "creme fraiche") == ["cream"]  # folded both ways
    assert ids(store, "CRÈME") == ["cream"]
    assert ids(store, "sour cream")[0] == "cream"  # category
    assert set(ids(store, "arla")) == {"yog", "milk"}  # attributes


def test_all_terms_and_operators_are_not_injected(store):
    assert ids(store, "oat calcium", all_terms=True) == ["oat"]
    for text in ['oat" OR "milk', "NEAR(oat milk)", "oat AND", "col:oat", "yog*"]:
        keyword_search(store, text)  # quoted word by word: never an FTS5 syntax error
    with pytest.raises(TextQueryError):
        match_expression("  ?! ")
    with pytest.raises(TextQueryError):
        keyword_search(store, "*")


def test_index_follows_update_and_delete(store):
    store.update_product("cream", {"title": "Gräddfil"})
    assert ids(store, "graddfil") == ["cream"]
    assert ids(store, "fraiche") == []  # the old title is gone from the index
    store.upsert_products([Product("milk", "Standard Milk", "Milk", "Now with vitamin D.")])
    assert ids(store, "vitamin") == ["milk"] and ids(store, "porridge") == []
    store.delete_products(["yog"])
    assert ids(store, "yoghurt") == []
    with sqlite3.connect(store.path) as db:  # a reader of its own: the FTS table itself, not a query on it
        assert db.execute("SELECT COUNT(*) FROM products_fts").fetchone()[0] == 3


def test_failed_write_rolls_the_index_back_too(store):
    with pytest.raises(ProductNotFoundError):
        store.delete_products(["yog", "no-such-product"])  # one transaction: nothing deleted
    assert ids(store, "yoghurt") == ["yog"]


def test_migration_backfills_an_existing_catalogue(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    name, m001 = MIGRATIONS[0]
    m001(db)
    db.execute("INSERT INTO _migrations VALUES (?, 'then')", (name,))
    db.execute("INSERT INTO products VALUES ('p1', 'Blåbär', 'Berries', NULL, '{}', 'x', 'x')")
    db.close()
    store = CatalogStore(path)
    assert ids(store, "blabar") == ["p1"]
    store.close()


def test_catalog_keyword_mode_and_filter(tmp_path):
    with Catalog.create(tmp_path / "shop") as catalog:
        catalog.store.upsert_products([Product("a", "Oat drink", "Milk"), Product("b", "Oat biscuits", "Bakery")])
        assert {h.product.id for h in catalog.search_text("oat", mode="keyword")} == {"a", "b"}
        hits = catalog.search_text("oat", mode="keyword", where="category = 'Bakery'")
        assert [h.product.id for h in hits] == ["b"] and hits[0].image_id == -1
