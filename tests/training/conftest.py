"""A small but hard catalogue for training tests: look-alike apples and milk cartons."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from support import require_grocery, split_photos

PRODUCTS = {
    "Golden-Delicious": ("Fruit/Apple/Golden-Delicious", "Apple"),
    "Granny-Smith": ("Fruit/Apple/Granny-Smith", "Apple"),
    "Pink-Lady": ("Fruit/Apple/Pink-Lady", "Apple"),
    "Red-Delicious": ("Fruit/Apple/Red-Delicious", "Apple"),
    "Royal-Gala": ("Fruit/Apple/Royal-Gala", "Apple"),
    "Arla-Medium-Fat-Milk": ("Packages/Milk/Arla-Medium-Fat-Milk", "Milk"),
    "Arla-Standard-Milk": ("Packages/Milk/Arla-Standard-Milk", "Milk"),
    "Arla-Ecological-Medium-Fat-Milk": ("Packages/Milk/Arla-Ecological-Medium-Fat-Milk", "Milk"),
}
TRAIN_PER_PRODUCT = 10
QUERIES_PER_PRODUCT = 4


def write_csv(path: Path, split: str, n: int) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["product_id", "image", "category"])
        for pid, (folder, category) in PRODUCTS.items():
            for photo in split_photos(split, folder, n):
                w.writerow([pid, str(photo), category])
    return path


@pytest.fixture(scope="session")
def look_alike_template(tmp_path_factory, model_cache) -> tuple[Path, Path]:
    """(catalogue with 8 look-alike products x 10 photos, CSV of 4 held-out test photos each)."""
    from productlens import Catalog

    require_grocery()
    root = tmp_path_factory.mktemp("lookalike")
    train_csv = write_csv(root / "train.csv", "train", TRAIN_PER_PRODUCT)
    queries = write_csv(root / "queries.csv", "test", QUERIES_PER_PRODUCT)
    with Catalog.open(root / "shop", create=True) as catalog:
        catalog.add(train_csv)
    return root / "shop", queries


@pytest.fixture
def look_alike(look_alike_template, tmp_path) -> tuple[Path, Path]:
    shop, queries = look_alike_template
    shutil.copytree(shop, tmp_path / "shop")
    return tmp_path / "shop", queries
