"""Recognition with a trained version's head, on the fast tier: a version whose "head" holds one
proxy per product (the mean of its image embeddings) and one per category, written as training
writes it, then recognising through the classifier/kNN blend."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from tiny import PRODUCTS, SIZE, write_pooling_network

from productlens import Catalog
from productlens.catalog.store import ModelRecord, Product
from productlens.models import PreprocessConfig

pytestmark = pytest.mark.fast


def add_trained_version(shop: Catalog, version: str = "ft-test") -> str:
    """A version folder as training saves it: model.fp32.onnx, head.npz, version.json."""
    folder = shop.versions.models_dir / version
    write_pooling_network(folder / "model.fp32.onnx")
    classes = sorted(PRODUCTS)
    categories = sorted({category for category, *_ in PRODUCTS.values()})
    base = shop.versions.active
    means = {}
    for product in classes:
        _, vectors = shop.store.embeddings(base.key, [im.id for im in shop.get_images(product)])
        means[product] = vectors.mean(axis=0)
    coarse = [np.mean([means[p] for p in classes if PRODUCTS[p][0] == c], axis=0) for c in categories]
    np.savez(folder / "head.npz", proxies=np.stack([means[p] for p in classes]), coarse=np.stack(coarse))
    recognition = {"mode": "blend", "scale": 16.0, "calibration": None, "coarse_mode": "proxies"}
    (folder / "version.json").write_text(json.dumps({"classes": classes, "categories": categories,
                                                     "recognition": recognition}))
    key = f"tiny-test/{version}/fp32"
    info = {"onnx": f"models/{version}/model.fp32.onnx", "classifier": f"models/{version}/head.npz"}
    shop.store.add_model(ModelRecord(key, "tiny-test", version, "fp32", base.dim, PreprocessConfig(SIZE, SIZE).to_dict(),
                                     info, time.strftime("%Y-%m-%dT%H:%M:%S")))
    return version


def test_a_trained_version_recognises_through_its_head(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        shop.versions.activate(add_trained_version(shop), force=True)
        for product, photo in fast_queries.items():
            result = shop.recognize(photo, k=3)
            searched = shop.search(photo, k=1)[0]
            assert result.known and result.product.id == product
            assert result.category == PRODUCTS[product][0] and 0.5 < result.category_confidence <= 1.0
            assert result.score == pytest.approx(searched.score)  # one score: the search's similarity
            assert result.threshold == 0.5 and result.confidence >= 0.5  # uncalibrated: the default
            assert result.calibration.startswith("default")
            assert [c.rank for c in result.candidates] == [1, 2, 3] and result.candidates[0].product.id == product


def test_products_added_or_removed_since_training(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        shop.versions.activate(add_trained_version(shop), force=True)
        shop.upsert_product(Product("copy", "A product added after training", "Milk"))
        shop.add_image("copy", fast_queries["purple-orange"])  # the very query photo: a perfect kNN match
        shop.remove(["purple-orange"])  # a trained class that no longer exists
        result = shop.recognize(fast_queries["purple-orange"], k=3)
        assert result.product is not None and result.product.id == "copy"  # reached through kNN alone
        assert "purple-orange" not in {c.product.id for c in result.candidates}
