"""eval reports photo -> catalogue-image matching when the catalogue has product shots beside its
photos (Grocery's `_Iconic` images), without being asked; `--catalog-images ''` turns it off."""

from __future__ import annotations

import json

import pytest
from tiny import PRODUCTS, product_photo, run_cli, write_photos

from productlens import Catalog

pytestmark = pytest.mark.fast


def as_json(*args) -> dict:
    return json.loads(run_cli(*args))


def test_eval_matches_photos_to_product_shots_when_the_catalogue_has_them(fast_catalog, tmp_path):
    photos = write_photos(tmp_path / "queries", first_seed=500)
    queries = tmp_path / "queries.csv"
    queries.write_text("product_id,image\n" + "".join(f"{p.parent.name},{p}\n" for p in sorted(photos.glob("*/*.jpg"))))
    plain = as_json("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "", "--json")
    assert plain["catalog_images_for_matching"] == 0 and "iconic_top1" not in next(iter(plain["methods"].values()))
    with Catalog.open(fast_catalog) as shop:
        for n, product in enumerate(PRODUCTS):
            shot = tmp_path / f"{product}_Iconic.jpg"
            product_photo(product, 9000 + n, size=(96, 72)).save(shot)
            shop.add_image(product, shot)
    shots = as_json("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "", "--json")
    active = next(v for k, v in shots["methods"].items() if k.startswith("active:"))
    assert shots["catalog_images_for_matching"] == len(PRODUCTS) and shots["catalog_images_pattern"] == "_Iconic"
    assert 0.0 <= active["iconic_top1"] <= active["iconic_top5"] <= 1.0
    off = as_json("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "", "--catalog-images", "", "--json")
    assert off["catalog_images_for_matching"] == 0
