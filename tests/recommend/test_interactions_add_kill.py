"""kill -9 of `productlens interactions add` in the middle of writing a big file: the file is one
SQLite transaction, so the interactions (and the products it would have created) stay as they
were; running the same command again then adds every row once, and a third run adds nothing."""

import json
import signal
import sqlite3
import subprocess
import time

import pytest
from processes import cli_command, report

from productlens import Catalog

pytestmark = pytest.mark.slow

ROWS = 200_000  # big enough that SQLite spills the open transaction into the WAL long before it ends
WAL_BYTES_BEFORE_KILL = (256 * 1024, 4 * 1024 * 1024)  # kill points: early, and well into the file


def write_events(path, rows: int) -> None:
    with path.open("w") as out:
        out.write("user_id,product_id,event,timestamp\n")
        for n in range(rows):
            out.write(f"user{n % 9_000},item{(n * 7) % 20_000},{'purchase' if n % 5 == 0 else 'view'},"
                      f"{1_600_000_000 + n}\n")


def table_state(shop) -> tuple[int, int, int, str]:
    """Interactions, distinct natural keys, products, and SQLite's own integrity verdict."""
    with sqlite3.connect(f"file:{shop / 'catalog.db'}?mode=ro", uri=True) as db:
        interactions = db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0]
        distinct = db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT user_id, product_id, event, timestamp, "
                              "basket_id FROM interactions)").fetchone()[0]
        products = db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    return interactions, distinct, products, integrity


def kill_when_wal_reaches(argv: list[str], wal, size: int, timeout: float = 300) -> float:
    """Start `argv`, SIGKILL it once the catalogue's WAL holds `size` bytes of its uncommitted
    transaction; the WAL size at the kill. Fails if the command ends on its own first."""
    assert (wal.stat().st_size if wal.exists() else 0) < size, "a WAL that big already: the kill would come too early"
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while (wal.stat().st_size if wal.exists() else 0) < size:
            assert proc.poll() is None, f"the add ended before the kill point: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "the add never reached the kill point"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        return wal.stat().st_size if wal.exists() else 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_a_killed_add_leaves_the_table_as_before_and_the_rerun_adds_each_row_once(tmp_path, tiny_model):
    shop = tmp_path / "shop"
    with Catalog.create(shop, model=tiny_model, index="memory") as catalog:
        catalog.add_interactions([{"user_id": f"early{n}", "product_id": f"item{n}", "timestamp": 1_500_000_000 + n}
                                  for n in range(300)])
    before = table_state(shop)
    assert before == (300, 300, 300, "ok")
    events = tmp_path / "events.csv"
    write_events(events, ROWS)
    add = cli_command("--catalog", shop, "-q", "interactions", "add", events, "--format", "json")
    for size in WAL_BYTES_BEFORE_KILL:
        wal_at_kill = kill_when_wal_reaches(add, shop / "catalog.db-wal", size)
        report("interactions add kill", wal_bytes=wal_at_kill, rows=ROWS)
        assert table_state(shop) == before  # nothing of the killed transaction is visible
        with Catalog.open(shop) as catalog:  # and the catalogue opens for writing and reads as before
            assert catalog.recommendations.info()["interactions"] == 300

    done = subprocess.run(add, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    interactions, distinct, products, integrity = table_state(shop)
    assert (interactions, distinct, integrity) == (300 + ROWS, 300 + ROWS, "ok")
    assert products == 20_000  # item0..item19999: the first 300 were there already
    again = subprocess.run(add, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["added"] == 0
    assert table_state(shop) == (300 + ROWS, 300 + ROWS, 20_000, "ok")
