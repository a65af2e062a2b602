"""Recognition with a trained version's head, on the fast tier: a version whose "head" holds one
proxy per product (the mean of its image embeddings) and one per category, saved the way training
saves one, then recognising through the classifier/kNN blend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny import PRODUCTS, SIZE, write_pooling_network

from productlens import Catalog
from productlens.training.port import TrainedVersion
from productlens.catalog.records import Product
from productlens.models import PreprocessConfig

pytestmark = pytest.mark.fast


def add_trained_version(shop: Catalog, scratch: Path) -> str:
    """A version saved the way training hands one over (engine/versions.py `save`): the pooling
    network as its ONNX file, a head with one proxy per product (the mean of its image embeddings)
    and per category; returns its model key."""
    write_pooling_network(scratch / "network.onnx")
    classes = sorted(PRODUCTS)
    categories = sorted({category for category, *_ in PRODUCTS.values()})
    base = shop.versions.active
    means = {}
    for product in classes:
        _, vectors = shop.store.embeddings(base.key, [im.id for im in shop.get_images(product)])
        means[product] = vectors.mean(axis=0)
    coarse = [np.mean([means[p] for p in classes if PRODUCTS[p][0] == c], axis=0) for c in categories]
    recognition = {"mode": "blend", "scale": 16.0, "calibration": None, "coarse_mode": "proxies"}
    trained = TrainedVersion("tiny-test", "fp32", base.dim, PreprocessConfig(SIZE, SIZE), {"fp32": scratch / "network.onnx"},
                             np.stack([means[p] for p in classes]), np.stack(coarse), "head", {}, recognition, "the test",
                             meta={"classes": classes, "categories": categories, "recognition": recognition})
    return shop.versions.save(trained)


def test_a_trained_version_recognises_through_its_head(fast_catalog, fast_queries, tmp_path):
    with Catalog.open(fast_catalog) as shop:
        shop.versions.activate(add_trained_version(shop, tmp_path), force=True)
        for product, photo in fast_queries.items():
            result = shop.recognize(photo, k=3)
            searched = shop.search(photo, k=1)[0]
            assert result.known and result.product.id == product
            assert result.category == PRODUCTS[product][0] and 0.5 < result.category_confidence <= 1.0
            assert result.score == pytest.approx(searched.score)  # one score: the search's similarity
            assert result.threshold == 0.5 and result.confidence >= 0.5  # uncalibrated: the default
            assert result.calibration.startswith("default")
            assert [c.rank for c in result.candidates] == [1, 2, 3] and result.candidates[0].product.id == product


def test_products_added_or_removed_since_training(fast_catalog, fast_queries, tmp_path):
    with Catalog.open(fast_catalog) as shop:
        shop.versions.activate(add_trained_version(shop, tmp_path), force=True)
        shop.upsert_product(Product("copy", "A product added after training", "Milk"))
        shop.add_image("copy", fast_queries["purple-orange"])  # the very query photo: a perfect kNN match
        shop.remove(["purple-orange"])  # a trained class that no longer exists
        result = shop.recognize(fast_queries["purple-orange"], k=3)
        assert result.product is not None and result.product.id == "copy"  # reached through kNN alone
        assert "purple-orange" not in {c.product.id for c in result.candidates}


def test_a_saved_version_has_its_files_in_one_folder_and_is_not_active(fast_catalog, tmp_path):
    with Catalog.open(fast_catalog) as shop:
        active = shop.versions.active.key
        key = add_trained_version(shop, tmp_path)
        record = shop.versions.resolve(key)
        folder = shop.versions.folder(record)
        assert folder.onnx("fp32").is_file() and folder.head.is_file() and folder.meta.is_file()
        assert not (tmp_path / "network.onnx").exists()  # moved in, not copied
        assert shop.versions.version_meta(record)["key"] == key
        assert shop.versions.head(record)["meta"]["classes"] == sorted(PRODUCTS)
        assert shop.versions.active.key == active  # saved, not activated
        assert {r["key"]: r["active"] for r in shop.versions.describe()} == {active: True, key: False}
