"""What a catalogue must look like after any fault (importable: tests/ is on pytest's pythonpath):
SQLite's own checks pass, every image has an embedding of the active model and is in the index
(the same ids, so a search can return every acknowledged write), and no temp file is left."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from productlens import Catalog


def temp_files(path: Path) -> list[Path]:
    """Temp files anywhere in the catalogue (index, models, media)."""
    return sorted(p for p in path.rglob("*") if ".tmp" in p.name)


def check_catalogue(path: Path) -> dict[str, int]:
    """Assert the catalogue at `path` is whole and consistent; returns its counts."""
    db = sqlite3.connect(path / "catalog.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
    with Catalog.open(path) as shop:
        info = shop.info()
        images = {im.id for im in shop.get_images()}
        model = shop.versions.active
        if model is not None:
            assert shop.store.images_missing_embedding(model.key) == [], "images without the active model's embedding"
            live = shop.index.live()
            assert set(live.index.ids().tolist()) == images, "index and catalogue disagree"
        assert info["images"] == info["indexed_vectors"] == len(images)
    assert temp_files(path) == [], f"temp files left: {temp_files(path)}"
    return {"products": info["products"], "images": info["images"], "generation": info["generation"]}
