"""Duplicate listings on a real catalogue: injected copies are found, thresholds are calibrated."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from productlens import Catalog
from productlens.catalog.store import Product
from productlens.cli import cli
from productlens.dedup import choose_threshold
from productlens.dedup.thresholds import make_copy
from productlens.images import read_bytes


def test_choose_threshold_hand_checked():
    scores = np.array([0.99, 0.97, 0.90, 0.80, 0.70])
    labels = np.array([True, True, False, True, False])
    threshold, precision, recall = choose_threshold(scores, labels)
    # Best F1 keeps the top four (P 3/4, R 1); the cut sits midway to the next score.
    assert threshold == pytest.approx(0.75)
    assert (precision, recall) == pytest.approx((0.75, 1.0))
    with pytest.raises(Exception, match="both"):
        choose_threshold(scores, np.ones(5, bool))


@pytest.fixture
def with_copies(tiny_catalog, tmp_path):
    """tiny_catalog plus a re-encoded crop of one Banana photo (same product) and a renamed SKU
    holding a resized copy of a Granny-Smith photo (files beside it, so their pixels can be checked)."""
    rng = np.random.default_rng(1)
    with Catalog.open(tiny_catalog) as catalog:
        banana = catalog.store.get_images("Banana")[0]
        apple = catalog.store.get_images("Granny-Smith")[1]
        (tmp_path / "banana-copy.jpg").write_bytes(make_copy(read_bytes(banana.source), "crop+resize+reencode", rng))
        (tmp_path / "apple-copy.jpg").write_bytes(make_copy(read_bytes(apple.source), "resize", rng))
        copy_id = catalog.add_image("Banana", tmp_path / "banana-copy.jpg")
        catalog.upsert_product(Product("GS-2", "Granny Smith"))
        sku_image = catalog.add_image("GS-2", tmp_path / "apple-copy.jpg")
        catalog.update_product("Granny-Smith", title="Granny Smith", description="Green apple")
    return tiny_catalog, (banana.id, copy_id), (apple.id, sku_image)


def test_injected_copies_are_found(with_copies):
    path, banana_pair, apple_pair = with_copies
    with Catalog.open(path) as catalog:
        report = catalog.duplicates(image_threshold=0.9, product_threshold=0.85)
        image_sets = [set(c.members) for c in report.image_clusters]
        assert set(banana_pair) in image_sets and set(apple_pair) in image_sets
        assert [c.members for c in report.product_clusters] in (
            [["GS-2", "Granny-Smith"]], [["Granny-Smith", "GS-2"]])
        # Nothing else: the 9 genuine photos are different shots, not duplicates.
        assert len(report.image_clusters) == 2
        data = json.loads(json.dumps(report.to_dict()))
        assert data["image_threshold"] == 0.9 and len(data["product_clusters"]) == 1


def test_byte_identical_photo_under_two_skus(tiny_catalog):
    with Catalog.open(tiny_catalog) as catalog:
        milk = catalog.store.get_images("Arla-Standard-Milk")[0]
        catalog.upsert_product(Product("MILK-OLD", "Old milk SKU"))
        other = catalog.add_image("MILK-OLD", read_bytes(milk.source))
        report = catalog.duplicates(image_threshold=0.999, product_threshold=0.999, use_text=False)
        assert [sorted(c.members) for c in report.image_clusters] == [sorted([milk.id, other])]
        assert report.image_clusters[0].products == ["Arla-Standard-Milk", "MILK-OLD"]


def test_calibration_is_stored_and_used(with_copies):
    path, banana_pair, _ = with_copies
    with Catalog.open(path) as catalog:
        cal = catalog.dedup.fit_thresholds(n=8, seed=0)
        assert cal.pairs == 8 and cal.source == "copies"
        for value in (cal.image_precision, cal.image_recall, cal.product_precision, cal.product_recall):
            assert 0.0 <= value <= 1.0
        assert -1.0 < cal.image_threshold < 1.0
        assert catalog.store.count_images() == 11  # copies were embedded in memory, not added
        report = catalog.duplicates()
        assert report.image_threshold == pytest.approx(cal.image_threshold)
        assert report.calibration["pairs"] == 8
        # Asking for more copies than there are readable files uses what there is.
        assert catalog.dedup.fit_thresholds(n=50).pairs == 11  # every image, the two copies included


def test_cli_json_and_html_review(with_copies, tmp_path):
    path, banana_pair, _ = with_copies
    page = tmp_path / "review.html"
    runner = CliRunner()
    result = runner.invoke(cli, ["--catalog", str(path), "duplicates", "--image-threshold", "0.9",
                                 "--product-threshold", "0.85", "--json", "--html", str(page)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert any(set(c["members"]) == set(banana_pair) for c in data["image_clusters"])
    html = page.read_text()
    assert html.count("<div class='cluster'>") == len(data["image_clusters"]) + len(data["product_clusters"])
    assert html.count("data:image/jpeg;base64,") >= 4  # thumbnails embedded side by side
    bad = runner.invoke(cli, ["--catalog", str(path), "duplicates", "--image-threshold", "2"])
    assert bad.exit_code != 0
