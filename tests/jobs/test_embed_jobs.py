"""Embedding jobs: shards split a list disjointly, re-runs resume by content hash, import is exact."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from productlens import Catalog
from productlens.cli import cli
from productlens.errors import IngestError
from productlens.jobs import FileSink, hash_id, parse_shard, read_list, run_job


@pytest.fixture
def image_list(tiny_photos_dir, tmp_path, bad_files):
    """The 9 tiny photos (product after a comma), one duplicate copy, one bad file, one missing."""
    lines = [f"{p},{p.parent.name}" for p in sorted(tiny_photos_dir.rglob("*.jpg"))]
    first = sorted(tiny_photos_dir.rglob("*.jpg"))[0]
    copy = tmp_path / "copy.jpg"
    shutil.copy(first, copy)
    bad = next(iter(bad_files.values())) if isinstance(bad_files, dict) else sorted(bad_files)[0]
    lines.insert(2, f"{copy},{first.parent.name}")  # line 2: the same shard (of 2) as line 0
    lines += ["# a comment", "", str(bad), "nowhere.jpg"]
    path = tmp_path / "list.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args):
    result = CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)
    return result


def test_shards_split_the_list_disjointly(image_list):
    everything = [it.line for it in read_list(image_list)]
    parts = [[it.line for it in read_list(image_list, (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == everything
    assert all(set(a).isdisjoint(b) for a in parts for b in parts if a is not b)


def test_bad_shard_and_missing_list_are_clear_errors(tmp_path):
    for text in ("0/2", "3/2", "a/b", "1"):
        with pytest.raises(IngestError):
            parse_shard(text)
    with pytest.raises(IngestError):
        list(read_list(tmp_path / "none.txt"))


def test_sharded_job_resumes_and_imports_into_a_catalogue(image_list, tmp_path, tiny_catalog_template, model_cache):
    out = tmp_path / "job"
    reports = [json.loads(run("embed", image_list, "-o", out, "--shard", s, "--json").output) for s in ("1/2", "2/2")]
    assert sum(r["embedded"] for r in reports) == 9  # the byte-identical copy is not embedded twice
    assert sum(r["selected"] for r in reports) == 12
    assert sum(len(r["failed"]) for r in reports) == 2  # the bad file and the missing one
    again = [json.loads(run("embed", image_list, "-o", out, "--shard", s, "--json").output) for s in ("1/2", "2/2")]
    assert sum(r["embedded"] for r in again) == 0  # resumed: nothing re-embedded

    catalog_path = tmp_path / "shop"
    result = run("--catalog", catalog_path, "index", "import", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 9
    with Catalog.open(catalog_path) as imported, Catalog.open(tiny_catalog_template) as reference:
        assert sorted(p.id for p in imported.list_products()) == sorted(p.id for p in reference.list_products())
        ref = {im.sha256: im.id for im in reference.store.get_images()}
        key = reference.versions.active.key
        for im in imported.store.get_images():
            mine = next(reference.store.iter_embeddings(key, [ref[im.sha256]]))[1][0]
            theirs = next(imported.store.iter_embeddings(key, [im.id]))[1][0]
            np.testing.assert_allclose(theirs, mine, atol=1e-5)  # same vectors as a plain `add`
        pid = imported.list_products()[0].id
        assert imported.similar(pid, k=1)


def test_interrupted_job_keeps_written_parts(image_list, tmp_path, model_cache):
    """A job killed after its first part resumes from there (parts are atomic)."""
    from productlens.models import create_embedder

    embedder = create_embedder("efficientnet-lite0", "fp32")
    out = tmp_path / "job"
    FileSink(out, (1, 1), embedder.key)

    class Boom(Exception):
        pass

    class CrashingSink(FileSink):
        """Dies while writing its second part, as a killed process would."""

        writes = 0

        def write(self, records, vectors):
            self.writes += 1
            if self.writes == 2:
                raise Boom
            super().write(records, vectors)

    with pytest.raises(Boom):
        run_job(embedder, read_list(image_list), CrashingSink(out, (1, 1), embedder.key), flush_every=3)
    parts = sorted((out / "shard-1-of-1").glob("part-*.npz"))
    assert len(parts) == 1 and not list(out.rglob(".*tmp*"))
    report = run_job(embedder, read_list(image_list), FileSink(out, (1, 1), embedder.key))
    assert report.already_done == 3 + 1 and report.embedded + report.already_done == 10  # 12 minus 2 failures


def test_job_folder_refuses_another_model(tmp_path):
    FileSink(tmp_path / "job", (1, 1), "model-a/1/fp32")
    from productlens.errors import ModelMismatchError

    with pytest.raises(ModelMismatchError):
        FileSink(tmp_path / "job", (1, 1), "model-b/1/fp32")


def test_hash_ids_are_positive_int64():
    assert 0 <= hash_id("f" * 64) < 2**63 and hash_id("0" * 64) == 0
    assert hash_id("a" * 64) != hash_id("b" * 64)
