"""Manifests: formats, disjoint partitions, paths relative to the manifest, fsspec, clear errors;
one partition embedded in this process (the unit every runner schedules)."""

from __future__ import annotations

import json

import pytest

from productlens.errors import IngestError
from productlens.jobs import embed_partition, read_manifest

pytestmark = pytest.mark.fast


def test_formats_agree_and_partitions_split_disjointly(tmp_path):
    (tmp_path / "m.csv").write_text("sku,image\na,x/1.jpg\nb,/abs/2.jpg\n,y/3.jpg\n")
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (
        {"sku": "a", "image": "x/1.jpg"}, {"sku": "b", "image": "/abs/2.jpg"}, {"image": "y/3.jpg"})))
    (tmp_path / "m.txt").write_text("x/1.jpg,a\n/abs/2.jpg,b\ny/3.jpg\n")
    expected = [(str(tmp_path / "x/1.jpg"), "a"), ("/abs/2.jpg", "b"), (str(tmp_path / "y/3.jpg"), "y")]
    for name in ("m.csv", "m.jsonl", "m.txt"):
        rows = [(r.path, r.product_id) for r in read_manifest(tmp_path / name)]
        assert rows == expected, name
        parts = [[r.row for r in read_manifest(tmp_path / name, p, 2)] for p in (0, 1)]
        assert sorted(parts[0] + parts[1]) == [0, 1, 2] and not set(parts[0]) & set(parts[1])


def test_jsonl_image_lists_and_bad_manifests(tmp_path):
    (tmp_path / "m.jsonl").write_text(json.dumps({"product_id": "p", "images": ["a.jpg", "b.jpg"]}) + "\n")
    assert [r.path.rsplit("/", 1)[-1] for r in read_manifest(tmp_path / "m.jsonl")] == ["a.jpg", "b.jpg"]
    (tmp_path / "bad.csv").write_text("product_id,imgae\np,a.jpg\n")
    with pytest.raises(IngestError, match="did you mean 'image'"):
        list(read_manifest(tmp_path / "bad.csv"))
    with pytest.raises(IngestError, match="does not exist"):
        list(read_manifest(tmp_path / "none.csv"))
    with pytest.raises(IngestError, match="out of range"):
        list(read_manifest(tmp_path / "m.jsonl", 2, 2))


def test_a_partition_reads_manifest_and_images_through_fsspec(fast_photos, tiny_ref, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    photos = sorted(fast_photos.rglob("*.jpg"))[:5]
    for p in photos:
        fs.pipe(f"/bucket/{p.parent.name}/{p.name}", p.read_bytes())
    lines = ["product_id,image"] + [f"{p.parent.name},{p.parent.name}/{p.name}" for p in photos]
    fs.pipe("/bucket/manifest.csv", ("\n".join(lines) + "\n").encode())
    report = embed_partition("memory://bucket/manifest.csv", 0, 1, tiny_ref, tmp_path / "out")
    assert (report.selected, report.embedded, report.skipped) == (5, 5, 0)
    table = pytest.importorskip("pyarrow.parquet").read_table(tmp_path / "out" / "part-00000-of-00001.parquet")
    assert table.num_rows == 5 and all(s.startswith("memory://bucket/") for s in table.column("source").to_pylist())
    again = embed_partition("memory://bucket/manifest.csv", 0, 1, tiny_ref, tmp_path / "out")
    assert again.already_done and again.embedded == 5
