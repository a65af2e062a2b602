"""Filtered engine searches on a Milvus catalogue: pushed down as expressions, same products as FAISS."""

from __future__ import annotations

import pytest

from productlens import Catalog

FIELDS = {  # price is a number for two products and a CSV-style string for the third
    "Granny-Smith": {"category": "Fruit", "attributes": {"brand": "Orchard", "price": 0.5}},
    "Arla-Standard-Milk": {"category": "Milk", "attributes": {"brand": "Arla", "price": 1.2}},
    "Banana": {"category": "Fruit", "attributes": {"brand": "Chiquita", "price": "0.25"}},
}
PUSHED = ["category = 'Fruit'", "brand in ('Arla', 'Chiquita') and category != 'Veg'",
          "category = 'Milk' or brand = 'Orchard'", "category = 'Shoes'"]
NOT_PUSHED = ["price < 1", "title like '%milk%'", "not category = 'Fruit'"]


class SearchSpy:
    """Records the keyword arguments every MilvusIndex.search call receives."""

    def __init__(self, index) -> None:
        self.calls: list[dict] = []
        self._search = index.search

    def __call__(self, queries, k, **kwargs):
        self.calls.append(kwargs)
        return self._search(queries, k, **kwargs)


def ids(hits) -> list[str]:
    return [h.product.id for h in hits]


@pytest.fixture
def shops(tiny_catalog, query_photos, milvus_server):
    """The tiny catalogue with categories and attributes; what FAISS answers; then on Milvus."""
    with Catalog.open(tiny_catalog) as shop:
        for pid, changes in FIELDS.items():
            shop.update_product(pid, **changes)
        queries = {pid: shop.searcher.embed_query(photo) for pid, photo in query_photos.items()}
        expected = {(where, pid): ids(shop.searcher.vector(q, k=3, where=where))
                    for where in PUSHED + NOT_PUSHED for pid, q in queries.items()}
        expected_similar = {pid: ids(shop.similar(pid, k=2)) for pid in FIELDS}
        shop.index.live().rebuild(milvus_server)
        shop.store.set_meta({"index_kind": milvus_server})
    shop = Catalog.open(tiny_catalog)
    live = shop.index.live()
    assert live.remote and len(live) == 9
    spy = SearchSpy(live.index)
    live.index.search = spy
    try:
        yield shop, queries, expected, expected_similar, spy
    finally:
        live.index.drop()
        shop.close()


def searches_with(shops, where: str) -> list[dict]:
    """Run the filtered search for every query, check it matches faiss-flat; the index calls made."""
    shop, queries, expected, _, spy = shops
    spy.calls.clear()
    for pid, q in queries.items():
        assert ids(shop.searcher.vector(q, k=3, where=where)) == expected[(where, pid)], where
    assert spy.calls, where
    return list(spy.calls)


def test_filtered_search_on_milvus_matches_faiss_and_is_pushed_down(shops):
    _, _, expected, _, _ = shops
    for where in PUSHED:
        assert all(c["expression"] and c["allowed_ids"] is None for c in searches_with(shops, where)), where
    assert expected[("category = 'Fruit'", "Banana")] == ["Banana", "Granny-Smith"]


def test_filters_milvus_cannot_evaluate_exactly_go_as_image_ids(shops):
    _, _, expected, _, _ = shops
    for where in NOT_PUSHED:
        assert all(c["expression"] is None and c["allowed_ids"] is not None for c in searches_with(shops, where)), where
    assert set(expected[("price < 1", "Banana")]) == {"Banana", "Granny-Smith"}  # "0.25" < 1 counts


def test_excluded_products_are_pushed_down_too(shops):
    shop, _, _, expected_similar, spy = shops
    for pid, expected in expected_similar.items():
        spy.calls.clear()
        assert ids(shop.similar(pid, k=2)) == expected
        assert all("id not in" in c["expression"] and c["allowed_ids"] is None for c in spy.calls)


def test_product_edits_reach_the_server_before_the_next_search(shops, tiny_catalog):
    shop, queries, _, _, spy = shops
    shop.update_product("Banana", category="Snack", attributes={"brand": "Orchard"})
    assert ids(shop.searcher.vector(queries["Banana"], k=3, where="category = 'Snack'")) == ["Banana"]
    assert ids(shop.searcher.vector(queries["Banana"], k=3, where="category = 'Fruit'")) == ["Granny-Smith"]
    found = ids(shop.searcher.vector(queries["Banana"], k=3, where="brand = 'Orchard'"))
    assert found == ["Banana", "Granny-Smith"]
    assert spy.calls[-1]["expression"] == '(attributes["brand"] == "Orchard")'
    live = shop.index.live()
    rows = live.index.fields(shop.store.image_ids_of_products(["Banana"]))
    assert {r["category"] for r in rows.values()} == {"Snack"}


def test_an_edit_a_crash_kept_from_the_server_is_sent_on_open(shops, tiny_catalog):
    """The product ids are recorded before the edit: a crash before the re-send is repaired on open."""
    shop, _, _, _, _ = shops
    live = shop.index.live()
    live.sync_fields = lambda: 0  # the crash: the edit commits, the server is never told
    shop.update_product("Banana", category="Snack")
    images = shop.store.image_ids_of_products(["Banana"])
    assert {r["category"] for r in live.index.fields(images).values()} == {"Fruit"}
    with Catalog.open(tiny_catalog) as reopened:
        rows = reopened.index.live().index.fields(images)
        assert {r["category"] for r in rows.values()} == {"Snack"}
        assert reopened.store.get_meta(f"fields_pending:{live.model_key}") is None
