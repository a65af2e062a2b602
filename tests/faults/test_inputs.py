"""Hostile inputs and other writers (issue #12.2, #12.7): FIFOs in folders and CSVs never hang an
`add`, and a long `add` holds the write lock only in short bursts (to write), never while it reads
and embeds files, so other writers go on meanwhile."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time

import pytest
from integrity import check_catalogue
from processes import cli_command, copy_catalogue, report, run_cli
from tiny import write_photos

pytestmark = pytest.mark.slow


def test_fifos_in_a_folder_and_a_csv_are_reported_and_block_nothing(file_catalog_template, tmp_path):
    shop = copy_catalogue(file_catalog_template, tmp_path)
    photos = write_photos(tmp_path / "photos", per_product=1, first_seed=321)
    os.mkfifo(photos / "red-blue" / "pipe.jpg")
    os.symlink("loop.jpg", photos / "red-blue" / "loop.jpg")
    table = tmp_path / "rows.csv"
    os.mkfifo(tmp_path / "fifo.jpg")
    real = next(photos.glob("green-yellow/*.jpg"))
    table.write_text(f"product_id,image\nF1,fifo.jpg\nF1,{real}\nF2,{real}\n")  # F1 keeps one image: it is made
    started = time.monotonic()
    folder = run_cli("--catalog", shop, "add", photos, "--json", timeout=60)
    rows = run_cli("--catalog", shop, "add", table, "--json", timeout=60)
    took = time.monotonic() - started
    assert folder.returncode == 0 and rows.returncode == 0, folder.stderr + rows.stderr
    skipped = {(s["source"].rsplit("/", 1)[-1], s["reason"]) for s in json.loads(folder.stdout)["skipped"]}
    assert skipped == {("pipe.jpg", "not-a-file"), ("loop.jpg", "not-a-file")} and json.loads(folder.stdout)["added"] == 4
    assert [(s["source"].rsplit("/", 1)[-1], s["reason"]) for s in json.loads(rows.stdout)["skipped"]] == [
        ("fifo.jpg", "not-a-file")]
    update = run_cli("--catalog", shop, "update", "F1", "--title", "Still writable", timeout=60)
    assert update.returncode == 0, update.stderr  # nothing kept the write lock
    assert check_catalogue(shop)["images"] == 18  # 12, 4 from the folder, F1 and F2 one each
    report("FIFOs and a symlink loop", two_adds_and_an_update_s=round(took, 1), skipped=sorted(skipped))


def test_a_long_add_holds_the_write_lock_only_to_write(big_catalog_template, many_photos, tmp_path):
    """Another process polls the lock while `add` reads, embeds and writes 1,000 new photos."""
    shop = copy_catalogue(big_catalog_template, tmp_path)
    photos = write_photos(tmp_path / "new", per_product=250, first_seed=50_000)
    proc = subprocess.Popen(cli_command("--catalog", shop, "-q", "add", photos), stderr=subprocess.PIPE, text=True)
    busy_since, longest, polls, free = None, 0.0, 0, 0
    with open(shop / ".write.lock", "a+") as lock:
        while proc.poll() is None:
            polls += 1
            now = time.monotonic()
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy_since = now if busy_since is None else busy_since
                longest = max(longest, now - busy_since)
            else:
                fcntl.flock(lock, fcntl.LOCK_UN)
                busy_since, free = None, free + 1
            time.sleep(0.005)
    assert proc.returncode == 0, proc.stderr.read()
    assert check_catalogue(shop)["images"] == 2012
    assert longest < 0.5, f"the write lock was held for {longest:.2f} s in one go"
    report("lock held by a 1,000-photo add", longest_hold_s=round(longest, 3), free_polls=f"{free}/{polls}")
