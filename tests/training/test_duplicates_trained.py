"""Near-duplicates after a switch to a trained version (issue #19): a trained space pulls a
product's photos together on purpose, so duplicates are found with the off-the-shelf model's
vectors instead: distinct photos of one product are not grouped, an injected copy still is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from tiny import PRODUCTS, TRAIN_SETTINGS, build_catalogue, run_cli

from productlens import Catalog
from productlens.dedup.thresholds import make_copy
from productlens.errors import ProductLensError
from productlens.images import read_bytes

pytestmark = pytest.mark.fast

CORNERS = [(0, 0), (36, 0), (0, 36), (36, 36), (18, 18)]  # where each shot's patch lands


def distinct_shots(root: Path, per_product: int, seed: int) -> Path:
    """Photos of each product's two colours in different layouts: each a shot of its own, not a
    burst (the patch lands in another corner), so their cell averages differ."""
    rng = np.random.default_rng(seed)
    for product, (_, first, second, _) in PRODUCTS.items():
        (root / product).mkdir(parents=True, exist_ok=True)
        for i in range(per_product):
            image = Image.new("RGB", (64, 64), first)
            x, y = (int(v) + int(rng.integers(-2, 3)) for v in CORNERS[(i + seed) % len(CORNERS)])
            ImageDraw.Draw(image).rectangle([max(0, x), max(0, y), x + 28, y + 28], fill=second)
            image.save(root / product / f"{product}-{seed}-{i}.jpg", quality=95)
    return root


def test_duplicates_on_a_trained_version_group_only_injected_copies(tiny_model, tmp_path):
    shop_path = build_catalogue(tmp_path / "shop", tiny_model, distinct_shots(tmp_path / "photos", 5, 0), "memory")
    val = distinct_shots(tmp_path / "val", 3, 1)
    (tmp_path / "val.csv").write_text("product_id,image\n" + "".join(
        f"{p.parent.name},{p}\n" for p in sorted(val.glob("*/*.jpg"))))
    with Catalog.open(shop_path) as shop:
        original = shop.store.get_images("red-blue")[0]
        copy = tmp_path / "copy.jpg"
        copy.write_bytes(make_copy(read_bytes(original.source), "reencode", np.random.default_rng(0)))
        copy_id = shop.add_image("red-blue", copy)
        off_the_shelf = shop.versions.active.key
    out = json.loads(run_cli("--catalog", shop_path, "train", *TRAIN_SETTINGS, "--epochs", 8, "--val", tmp_path / "val.csv", "--use",
                         "--force", "--json"))
    assert out["activation"]["switched"]
    run_cli("--catalog", shop_path, "duplicates", "--calibrate", "--no-text")
    with Catalog.open(shop_path) as shop:
        assert shop.versions.active.info.get("onnx")  # the trained version is the one searches use
        report = shop.duplicates(use_text=False)
        same_product = [im.id for im in shop.store.get_images("green-yellow")]
        _, trained = shop.store.embeddings(shop.versions.active.key, same_product)
        _, instance = shop.store.embeddings(off_the_shelf, same_product)
        assert shop.dedup.space().key == off_the_shelf
        with pytest.raises(ProductLensError, match="trained on the catalogue's products"):
            shop.calibrate()  # leaving its own training products out would not make them unknown to it
        assert shop.store.get_calibration(off_the_shelf, "duplicates") is not None  # stored for that space
    assert [sorted(c.members) for c in report.image_clusters] == [sorted([original.id, copy_id])]
    # Why the trained space is the wrong one: it pulls one product's distinct photos together.
    pairs = np.triu_indices(len(same_product), 1)
    assert (trained @ trained.T)[pairs].mean() > (instance @ instance.T)[pairs].mean()
