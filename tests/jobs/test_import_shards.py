"""Gathering shards: import-shards into a new catalogue (then search and ivfpq serve them), vectors
equal to `add`'s, another model's shards refused, bad images with `add`'s reasons, Milvus streaming."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from productlens import Catalog
from productlens.cli import cli
from productlens.errors import ModelMismatchError
from productlens.jobs import MilvusSink, hash_id, iter_shard_rows, read_skipped, run_partitions, stream_shards


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def fast_shards(tmp_path_factory, fast_photos, tiny_ref):
    """The fast tier's 12 photos embedded by the local runner (relative paths in a JSON-lines manifest)."""
    root = tmp_path_factory.mktemp("fast-shards")
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"product_id": p.parent.name, "image": str(p)}) + "\n"
                                for p in sorted(fast_photos.rglob("*.jpg"))))
    report = run_partitions(manifest, root / "out", tiny_ref, partitions=3, workers=1)
    assert report.embedded == 12
    return root / "out"


def test_import_shards_into_a_new_catalogue_then_search_finds_them(fast_shards, fast_queries, tmp_path):
    shop = tmp_path / "shop"
    result = run("--catalog", shop, "import-shards", fast_shards, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"added": 12, "duplicates": 0, "shards": 3, "skipped_inputs": 0}
    again = json.loads(run("--catalog", shop, "import-shards", fast_shards, "--json").output)
    assert again["added"] == 0 and again["duplicates"] == 12  # importing twice adds nothing
    for kind in (None, "ivfpq"):
        if kind:
            assert run("--catalog", shop, "index", "build", "--kind", kind).exit_code == 0
        with Catalog.open(shop) as catalog:
            assert catalog.index.info()["kind"].endswith(kind or "")
            for product, photo in fast_queries.items():
                assert catalog.search(photo, k=1)[0].product.id == product


def test_imported_vectors_equal_those_of_add(fast_shards, fast_catalog_template, tmp_path):
    with Catalog.open(tmp_path / "shop", create=True, model="tiny-test", index="memory") as imported:
        imported.ingest.import_shards(fast_shards)
        with Catalog.open(fast_catalog_template) as added:
            assert imported.versions.active.key == added.versions.active.key
            theirs, ours = vectors_by_sha(added), vectors_by_sha(imported)
    assert sorted(ours) == sorted(theirs) and len(ours) == 12
    worst = max(float(np.abs(ours[sha] - theirs[sha]).max()) for sha in ours)
    assert worst <= 1e-5


def vectors_by_sha(catalog: Catalog) -> dict[str, np.ndarray]:
    """Every image's stored vector under the active model, by content hash."""
    images = catalog.store.get_images()
    sha = {im.id: im.sha256 for im in images}
    out = {}
    for ids, vectors in catalog.store.iter_embeddings(catalog.versions.active.key, [im.id for im in images]):
        out.update({sha[int(i)]: v for i, v in zip(ids, vectors)})
    return out


def test_shards_of_another_model_are_refused(fast_photos, fast_catalog, tiny_ref, tmp_path):
    manifest = tmp_path / "list.txt"
    manifest.write_text("".join(f"{p},{p.parent.name}\n" for p in sorted(fast_photos.rglob("*.jpg"))[:4]))
    out = tmp_path / "out"
    run_partitions(manifest, out, replace(tiny_ref, version="elsewhere"), partitions=2, workers=1)
    with Catalog.open(fast_catalog) as catalog:
        before = catalog.store.count_images()
        with pytest.raises(ModelMismatchError, match="tiny-test/elsewhere/fp32"):
            catalog.ingest.import_shards(out)
        assert catalog.store.count_images() == before
    result = CliRunner().invoke(cli, ["--catalog", str(fast_catalog), "import-shards", str(out)])
    assert result.exit_code == 1 and "elsewhere" in result.output and "Traceback" not in result.output


def test_bad_images_are_skipped_for_the_reasons_add_gives(bad_files, fast_catalog, tiny_ref, tmp_path):
    folder = tmp_path / "bad" / "broken"
    folder.mkdir(parents=True)
    for path in bad_files.values():
        shutil.copy(path, folder / path.name)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("image,product_id\n" + "".join(f"bad/broken/{p.name},broken\n" for p in sorted(folder.iterdir())))
    run_partitions(manifest, tmp_path / "out", tiny_ref, partitions=2, workers=1)
    ours = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in read_skipped(tmp_path / "out")}
    with Catalog.open(fast_catalog) as catalog:
        report = catalog.add(folder.parent)
    theirs = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert ours == theirs and len(ours) == len(bad_files)
    parts = {p.name for p in (tmp_path / "out").glob("*.skipped.jsonl") if p.read_text()}
    assert parts == {"part-00000-of-00002.skipped.jsonl", "part-00001-of-00002.skipped.jsonl"}  # per partition


def test_shards_stream_into_a_milvus_collection(fast_shards, milvus_server):
    dim = next(iter_shard_rows(fast_shards)).vectors.shape[1]
    assert stream_shards(fast_shards, MilvusSink(milvus_server, "shards_test", dim)) == {"added": 12, "duplicates": 0}
    assert stream_shards(fast_shards, MilvusSink(milvus_server, "shards_test", dim)) == {"added": 0, "duplicates": 12}
    sink = MilvusSink(milvus_server, "shards_test", dim)
    batch = next(iter_shard_rows(fast_shards))
    hits = sink.index.search(batch.vectors[:1], 1)
    assert int(np.asarray(hits.ids)[0][0]) == hash_id(batch.sha256s[0])
    sink.close()
