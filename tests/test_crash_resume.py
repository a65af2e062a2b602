"""A writer killed mid-add leaves a consistent catalogue, and re-running the add resumes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

from productlens import Catalog
from productlens.catalog.datasets import write_grocery_csv

from support import GROCERY, require_grocery

ROWS = 700


def _count_images(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_during_add_then_resume(tmp_path, model_cache):
    require_grocery()
    full = tmp_path / "all.csv"
    write_grocery_csv(GROCERY, "train", full)
    lines = full.read_text().splitlines()
    # Every 3rd photo, so the rows cover many products.
    (tmp_path / "part.csv").write_text("\n".join([lines[0], *lines[1::3][:ROWS]]) + "\n")
    shop = tmp_path / "shop"
    cmd = [sys.executable, "-m", "productlens", "--catalog", str(shop), "--quiet", "add", str(tmp_path / "part.csv")]
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 120
    while _count_images(shop / "catalog.db") == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = _count_images(shop / "catalog.db")
    assert 0 < committed < ROWS, "the kill should land between the first batch and the end"

    with sqlite3.connect(shop / "catalog.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == committed
    with Catalog.open(shop) as catalog:
        assert catalog.info()["indexed_vectors"] == committed  # index caught up with SQLite
        report = catalog.add(tmp_path / "part.csv")
        assert report.duplicates == committed and report.added == ROWS - committed
        assert catalog.info()["images"] == ROWS == catalog.info()["indexed_vectors"]
