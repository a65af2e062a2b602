"""A full disk during `add` (issue #12.5): a one-line error naming the file, exit 1, nothing
half-written, no temp file left; with space again, the same command finishes the job.

The catalogue lives on a real tmpfs of a few MB, filled up to a chosen number of free bytes, so
the write that fails is SQLite's or the index file's, at whatever point the space runs out.
Mounting needs root (CI runs as root): the test is skipped otherwise, or if the mount fails.
"""

from __future__ import annotations

import shutil

import pytest
from disks import DISK, fill
from integrity import check_catalogue, temp_files
from processes import report, run_cli

FREE_LEVELS = (0, 65_536, 262_144, 524_288, 786_432, 917_504, 1_048_576, 1_310_720, 1_572_864)  # bytes left free before `add` starts


def test_a_full_disk_during_add_is_one_line_and_leaves_the_catalogue_whole(small_disk, file_catalog_template,
                                                                           many_photos, fast_queries):
    shop = small_disk / "shop"
    shutil.copytree(file_catalog_template, shop)
    outcomes, committed = [], []
    images = check_catalogue(shop)["images"]
    for leave in FREE_LEVELS:
        filler = fill(small_disk, leave)
        done = run_cli("--catalog", shop, "-q", "add", many_photos)
        errors = done.stderr.strip().splitlines()
        if done.returncode == 0:
            outcomes.append("fitted")
        else:
            assert done.returncode == 1 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
            assert errors[0].startswith("Error: cannot") and "disk is full" in errors[0], errors[0]
            assert str(shop) in errors[0]
            outcomes.append(errors[0].split(": the disk is full")[0].split(str(shop))[-1] or "catalogue")
        assert temp_files(shop) == [], "a failed write left its temp file"
        filler.unlink()
        counts = check_catalogue(shop)
        assert counts["images"] >= images  # what was acknowledged is still there
        images = counts["images"]
        committed.append(images)
    assert run_cli("--catalog", shop, "-q", "add", many_photos).returncode == 0
    assert check_catalogue(shop)["images"] == 1012
    found = run_cli("--catalog", shop, "search", fast_queries["purple-orange"], "-k", "1", "--json")
    assert '"id": "purple-orange"' in found.stdout
    report("disk full during add", disk=DISK, free_bytes=list(FREE_LEVELS), failed_writing=outcomes,
           images_after_each=committed)
