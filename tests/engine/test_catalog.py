"""The Catalog facade on the fast tier: the tiny network, synthetic photos, the in-memory index.

The same behaviour tests/test_engine.py checks on real photos and EfficientNet, in a second
rather than a minute, so the engine's logic is covered by `make test-fast`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny import PRODUCTS, product_photo

from productlens.catalog.ingest import read_source
from productlens.errors import ProductLensError
from productlens import Catalog, FilterSyntaxError, ModelMismatchError, ProductNotFoundError
from productlens.catalog.store import Product

pytestmark = pytest.mark.fast


def test_catalogue_contents_and_index(fast_catalog):
    with Catalog.open(fast_catalog) as shop:
        info = shop.info()
        assert info["products"] == 4 and info["images"] == 12 and info["indexed_vectors"] == 12
        assert info["model_key"] == "tiny-test/imagenet/fp32" and info["dim"] == 48 and info["index"] == "memory"
        assert shop.index.info() == {"kind": "memory", "count": 12, "dim": 48, "reduce": None, "rerank": 0, "file": None}
        assert {p.id: p.category for p in shop.list_products()} == {p: c for p, (c, *_) in PRODUCTS.items()}


def test_search_finds_each_product_from_a_held_out_photo(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        for product, photo in fast_queries.items():
            hits = shop.search(photo, k=4)
            assert [h.rank for h in hits] == [1, 2, 3, 4]
            assert hits[0].product.id == product, [(h.product.id, h.score) for h in hits]
            assert hits[0].score > hits[1].score >= hits[2].score >= hits[3].score
            assert hits[0].image_id in {im.id for im in shop.get_images(product)}


def test_the_memory_index_is_rebuilt_from_the_store_on_open(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        before = [(h.product.id, h.score) for h in shop.search(fast_queries["red-blue"], k=4)]
    assert not (fast_catalog / "index").exists() or not any((fast_catalog / "index").iterdir())  # no file kept
    with Catalog.open(fast_catalog) as shop:
        after = [(h.product.id, h.score) for h in shop.search(fast_queries["red-blue"], k=4)]
    assert [p for p, _ in after] == [p for p, _ in before]
    np.testing.assert_allclose([s for _, s in after], [s for _, s in before], atol=1e-6)


def test_filters_and_exclusions_restrict_exactly(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        shop.update_product("red-blue", attributes={"price": "2.50"})
        shop.update_product("black-white", attributes={"price": 1})
        hits = shop.search(fast_queries["red-blue"], k=4, where="category = 'Fruit'")
        assert {h.product.id for h in hits} == {"black-white", "purple-orange"}
        assert [h.product.id for h in shop.search(fast_queries["red-blue"], k=4, where="price < 2")] == ["black-white"]
        assert shop.search(fast_queries["red-blue"], where="category = 'Shoes'") == []
        assert [p.id for p in shop.list_products("category = 'Milk'")] == ["green-yellow", "red-blue"]
        assert [p.id for p in shop.list_products(limit=2, offset=1)] == ["green-yellow", "purple-orange"]
        similar = shop.similar("red-blue", k=4)
        assert "red-blue" not in {h.product.id for h in similar} and len(similar) == 3
        with pytest.raises(FilterSyntaxError):
            shop.search(fast_queries["red-blue"], where="category = ")


def side_by_side_photo(tmp_path):
    """Two products in one photo: red-blue on the left, purple-orange on the right."""
    pair = Image.new("RGB", (160, 60))
    pair.paste(product_photo("red-blue", 7), (0, 0))
    pair.paste(product_photo("purple-orange", 7), (80, 0))
    pair.save(tmp_path / "pair.png")
    return tmp_path / "pair.png"


def test_a_box_crops_the_query_in_original_pixels(fast_catalog, tmp_path):
    side_by_side = side_by_side_photo(tmp_path)
    with Catalog.open(fast_catalog) as shop:
        assert shop.search(side_by_side, k=1, box=(0, 0, 80, 60))[0].product.id == "red-blue"
        assert shop.search(side_by_side, k=1, box=(80, 0, 160, 60))[0].product.id == "purple-orange"
        assert shop.search(side_by_side, k=1, box=(0.5, 0.0, 1.0, 1.0))[0].product.id == "purple-orange"


def test_recognition_is_calibrated_and_says_unknown(fast_catalog, fast_queries, tmp_path):
    from tiny import write_photos

    with Catalog.open(fast_catalog) as shop:
        with pytest.raises(ProductLensError, match="taken apart"):  # each product's photos are one burst
            shop.calibrate()
        photos = list(read_source(write_photos(tmp_path / "held-out", first_seed=200)))
        cal = shop.calibrate(photos=photos)
        assert cal.known_queries == 12 and cal.unknown_queries == 12 and 0.0 < cal.threshold < 1.0
        assert cal.source == "12 labelled photos"
        assert shop.recognition.calibration == cal  # stored for the active model version
        assert [c.name for c in shop.recognition.calibrations(shop.versions.active.key)] == ["burst", "recognition"]
        known = shop.recognize(fast_queries["green-yellow"])
        assert known.known and known.product.id == "green-yellow" and known.category == "Milk"
        assert cal.threshold <= known.confidence < 1.0 and known.calibration == cal.source
        shop.remove(["green-yellow"])
        gone = shop.recognize(fast_queries["green-yellow"])
        assert not gone.known and gone.product is None and gone.score < known.score
        assert gone.to_dict()["known"] is False


def test_writes_keep_store_and_index_in_step(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        shop.upsert_product(Product("new", "New product", "Fruit"))
        image_id = shop.add_image("new", fast_queries["purple-orange"])
        assert image_id is not None and shop.add_image("new", fast_queries["purple-orange"]) is None  # same bytes
        assert shop.search(fast_queries["purple-orange"], k=1)[0].product.id == "new"  # the very photo
        assert shop.remove_image(image_id) and not shop.remove_image(image_id)
        assert shop.search(fast_queries["purple-orange"], k=1)[0].product.id == "purple-orange"
        assert shop.remove(["purple-orange"]) == 3
        assert shop.info()["indexed_vectors"] == 9
        with pytest.raises(ProductNotFoundError):
            shop.remove(["purple-orange"])


def test_re_adding_the_same_photos_changes_nothing(fast_catalog, fast_photos):
    with Catalog.open(fast_catalog) as shop:
        generation = shop.counts()["generation"]
        report = shop.add(fast_photos)
        assert report.added == 0 and report.duplicates == 12 and report.products_created == 0
        assert shop.counts()["images"] == 12 and shop.counts()["generation"] >= generation


def test_opening_with_another_model_or_index_is_refused(fast_catalog):
    with pytest.raises(ModelMismatchError):
        Catalog.open(fast_catalog, model="efficientnet-lite0")
    with pytest.raises(Exception, match="uses the memory index"):
        Catalog.open(fast_catalog, index="flat")
    Catalog.open(fast_catalog, index="memory").close()


def test_keyword_text_search_needs_no_sentence_model_and_filters(fast_catalog):
    with Catalog.open(fast_catalog) as shop:
        shop.update_product("red-blue", title="Oat drink, red carton")
        shop.update_product("black-white", title="Oat biscuits")
        hits = shop.search_text("oat", k=5, mode="keyword")
        assert {h.product.id for h in hits} == {"red-blue", "black-white"} and hits[0].image_id > 0
        assert [h.product.id for h in shop.search_text("oat", mode="keyword", where="category = 'Milk'")] == ["red-blue"]


def test_add_takes_a_products_only_table_for_products_with_photos(fast_catalog, tmp_path):
    table = tmp_path / "stock.jsonl"
    table.write_text('{"product_id": "red-blue", "stock": "12"}\n{"product_id": "black-white", "stock": "3"}\n')
    with Catalog.open(fast_catalog) as shop:
        report = shop.add(table)
        assert (report.products_updated, report.added) == (2, 0)
        assert shop.get_product("red-blue").attributes["stock"] == "12"
        assert shop.info()["images"] == 12
