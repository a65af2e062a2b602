"""Helpers shared by tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

from pathlib import Path

import pytest

from productlens import settings

GROCERY = Path(str(settings.get("grocery_root")))
DATASET = GROCERY / "dataset"

# Three products, three train photos each, plus a held-out test photo of each.
TINY_PRODUCTS = {
    "Granny-Smith": "Fruit/Apple/Granny-Smith",
    "Arla-Standard-Milk": "Packages/Milk/Arla-Standard-Milk",
    "Banana": "Fruit/Banana",
}


def require_grocery() -> Path:
    if not (DATASET / "classes.csv").exists():
        pytest.skip(f"Grocery Store dataset not found at {GROCERY} (set PRODUCTLENS_GROCERY_ROOT)")
    return DATASET


def split_photos(split: str, folder: str, n: int) -> list[Path]:
    lines = (DATASET / f"{split}.txt").read_text().splitlines()
    paths = [DATASET / line.split(",")[0].strip() for line in lines if f"/{folder}/" in line]
    return paths[:n]

# Server index kinds -> the fixture that starts a real server for them and yields its address.
INDEX_SERVERS = {"milvus": "milvus_server"}
