"""Read-only and unreadable catalogue files and folders (issue #12.5): reads work where they can,
writes are one-line StorageErrors naming the file and what to do, and nothing changes.

The commands run in their own process with the permission bits honoured: as root (CI), with the
capabilities that override them dropped (`setpriv`, from util-linux); as anyone else, as they are.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from integrity import check_catalogue
from processes import copy_catalogue, report, run_cli
from tiny import write_photos

DROP = "-dac_override,-dac_read_search"
AS_USER = ["setpriv", f"--bounding-set={DROP}", f"--inh-caps={DROP}", "--"] if os.geteuid() == 0 else []


@pytest.fixture(autouse=True)
def _setpriv_available():
    if AS_USER and shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv is not installed")


def run_as_user(*args: object):
    return run_cli(*args, prefix=AS_USER)


def one_line_error(done, *parts: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("Error: cannot"), lines[0]
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@contextmanager
def modes(*changes: tuple[Path, int]) -> Iterator[None]:
    """chmod each path for the block, then back."""
    before = [(path, stat.S_IMODE(path.stat().st_mode)) for path, _ in changes]
    for path, mode in changes:
        path.chmod(mode)
    try:
        yield
    finally:
        for path, mode in reversed(before):
            path.chmod(mode)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_read_only_database_answers_reads_and_refuses_writes(file_catalog_template, fast_queries, fast_photos,
                                                                tmp_path):
    shop = copy_catalogue(file_catalog_template, tmp_path)
    before = snapshot(shop)
    with modes((shop / "catalog.db", 0o444)):
        info = run_as_user("--catalog", shop, "info", "--json")
        assert info.returncode == 0 and json.loads(info.stdout)["images"] == 12, info.stderr
        found = run_as_user("--catalog", shop, "search", fast_queries["red-blue"], "-k", "1", "--json")
        assert json.loads(found.stdout)["results"][0]["id"] == "red-blue"
        update = one_line_error(run_as_user("--catalog", shop, "update", "red-blue", "--title", "Renamed"),
                                f"{shop}/catalog.db", "it is read-only", "write access")
        add = one_line_error(run_as_user("--catalog", shop, "add", fast_photos / "red-blue", "--product", "new"),
                             "catalog.db", "read-only")
    assert snapshot(shop) == before
    check_catalogue(shop)
    report("read-only catalog.db", update=update.split(": ", 2)[2], add=add.split(": ", 2)[2])


def test_a_read_only_catalogue_folder_is_searchable_without_writing_anything(file_catalog_template, fast_queries,
                                                                             tmp_path):
    shop = copy_catalogue(file_catalog_template, tmp_path)
    before = snapshot(shop)
    files = [(p, 0o444) for p in shop.rglob("*") if p.is_file()]
    folders = [(p, 0o555) for p in sorted(shop.rglob("*"), reverse=True) if p.is_dir()] + [(shop, 0o555)]
    with modes(*files, *folders):
        info = run_as_user("--catalog", shop, "info", "--json")
        assert info.returncode == 0 and json.loads(info.stdout)["indexed_vectors"] == 12, info.stderr
        listed = run_as_user("--catalog", shop, "list", "--where", "category = 'Fruit'", "--json")
        assert sorted(p["id"] for p in json.loads(listed.stdout)) == ["black-white", "purple-orange"]
        found = run_as_user("--catalog", shop, "search", fast_queries["green-yellow"], "-k", "1", "--json")
        assert json.loads(found.stdout)["results"][0]["id"] == "green-yellow", found.stderr
        refused = one_line_error(run_as_user("--catalog", shop, "update", "red-blue", "--title", "x"), "read-only")
    assert snapshot(shop) == before  # not even a -wal or -shm file
    report("read-only catalogue folder", reads="info, list, search answered", write=refused.split(": ", 2)[2])


def test_an_unreadable_database_is_one_line(file_catalog_template, tmp_path):
    shop = copy_catalogue(file_catalog_template, tmp_path)
    with modes((shop / "catalog.db", 0o000)):
        line = one_line_error(run_as_user("--catalog", shop, "info"), f"{shop}/catalog.db", "permission denied")
    check_catalogue(shop)
    report("unreadable catalog.db", info=line.split(": ", 2)[2])


def test_an_index_folder_that_cannot_be_written(file_catalog_template, tmp_path):
    """The images are committed to SQLite (the truth); the index file cannot be saved: a one-line
    error, and the next command that can write rebuilds the file from the store."""
    shop = copy_catalogue(file_catalog_template, tmp_path)
    photos = write_photos(tmp_path / "more", per_product=2, first_seed=777)
    with modes((shop / "index", 0o555)):
        line = one_line_error(run_as_user("--catalog", shop, "add", photos), "/index/", "permission denied")
        assert run_as_user("--catalog", shop, "info").returncode == 0  # reads still work
    assert check_catalogue(shop)["images"] == 20
    report("index folder not writable during add", add=line.split(": ", 2)[2])


def test_an_unreadable_photo_is_skipped_as_unreadable(file_catalog_template, tmp_path):
    shop = copy_catalogue(file_catalog_template, tmp_path)
    photos = write_photos(tmp_path / "more", per_product=1, first_seed=888)
    locked = next(photos.glob("red-blue/*.jpg"))
    with modes((locked, 0o000)):
        done = run_as_user("--catalog", shop, "add", photos, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["added"] == 3 and [(s["source"], s["reason"]) for s in result["skipped"]] == [(str(locked), "unreadable")]
    check_catalogue(shop)
