"""Reads on a full disk (issue 23, F4): `info`, `search` and `models` at 0 bytes free answer as
usual; they failed with "the disk is full" (a read that tried to write)."""

from __future__ import annotations

import shutil

import pytest
from processes import run_cli
from disks import fill

pytestmark = pytest.mark.slow


def test_reads_work_at_zero_bytes_free(small_disk, file_catalog_template, fast_queries):
    shop = small_disk / "shop"
    shutil.copytree(file_catalog_template, shop)
    assert run_cli("--catalog", shop, "info").returncode == 0  # opened once with space: nothing left to migrate
    fill(small_disk, 0)
    assert shutil.disk_usage(small_disk).free < 4096
    for args in (["info"], ["models"], ["search", fast_queries["red-blue"], "-k", "1", "--format", "csv"],
                 ["list", "--format", "csv"]):
        done = run_cli("--catalog", shop, *args, timeout=120)
        assert done.returncode == 0, f"{args}: {done.stderr}"
    assert "red-blue" in run_cli("--catalog", shop, "search", fast_queries["red-blue"], "-k", "1").stdout
    refused = run_cli("--catalog", shop, "update", "red-blue", "--title", "New", timeout=120)
    assert refused.returncode == 1 and "the disk is full" in refused.stderr  # a write says why, in one line
