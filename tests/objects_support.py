"""Shared by the detect-then-search tests: a drawn shelf of the tiny synthetic products, and the
check every object of a `search --objects` answer must pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from productlens.detection.composites import compose
from tiny import PRODUCTS, product_photo


def tiny_shelf(folder: Path) -> Path:
    """A 360 x 270 shelf photo of the four tiny products (seeded)."""
    pictures = [product_photo(p, 900 + n, size=(90, 120)) for n, p in enumerate(PRODUCTS)]
    made = compose(pictures, np.random.default_rng(3), size=(360, 270), max_products=4)
    path = folder / "shelf.jpg"
    made.image.save(path, quality=95)
    return path


def check_object(obj: dict, width: int, height: int, k: int) -> None:
    """A box inside the photo, a score in 0..1, 1..k ranked results of known products, a recognition."""
    x0, y0, x1, y1 = obj["box"]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height and 0 <= obj["score"] <= 1
    assert 1 <= len(obj["results"]) <= k and obj["results"][0]["rank"] == 1 and obj["results"][0]["id"] in PRODUCTS
    assert {"known", "confidence", "threshold", "candidates"} <= set(obj["recognition"])
