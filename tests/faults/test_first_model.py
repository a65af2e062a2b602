"""A new catalogue's model row (issue 23, F2): a kill -9 of the `add` that creates a catalogue can
leave it before its first photo is embedded; a read of it then wrote the model row (a read that
writes). Reads now leave it as it is, and the next write records the model."""

from __future__ import annotations

import sqlite3

import pytest
from processes import run_cli

from productlens import Catalog

pytestmark = pytest.mark.slow


def model_rows(shop) -> tuple[int, str | None]:
    """The models table's row count and the active-model meta value, read without the engine."""
    with sqlite3.connect(f"file:{shop / 'catalog.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT count(*) FROM models").fetchone()[0]
        active = db.execute("SELECT value FROM meta WHERE key = 'active_model'").fetchone()
    return rows, active[0] if active else None


def test_a_read_of_a_catalogue_without_a_model_row_writes_nothing(tiny_model, fast_photos, fast_queries, tmp_path):
    shop = tmp_path / "shop"
    # the state a kill leaves between creating the catalogue and embedding its first photo
    Catalog.create(shop, model=tiny_model, index="faiss-flat").close()
    assert model_rows(shop) == (0, None)
    searched = run_cli("--catalog", shop, "search", fast_queries["red-blue"], "-k", "1", "--format", "csv")
    assert searched.returncode == 0 and searched.stdout.strip() == "rank,score,id,title,category,image_id"
    run_cli("--catalog", shop, "recognize", fast_queries["red-blue"])
    assert model_rows(shop) == (0, None)  # the search wrote the row before
    assert run_cli("--catalog", shop, "-q", "add", fast_photos).returncode == 0
    rows, active = model_rows(shop)
    assert rows == 1 and active.startswith("tiny-test/")
    found = run_cli("--catalog", shop, "search", fast_queries["red-blue"], "-k", "1", "--format", "csv")
    assert found.returncode == 0 and "red-blue" in found.stdout
