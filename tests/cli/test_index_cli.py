"""`add --index`, `index info` and `index build` as a user runs them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from productlens.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)


def test_add_with_index_kind_then_rebuild_and_tune(tiny_photos_dir, tmp_path, model_cache, query_photos):
    shop = tmp_path / "shop"
    assert run("--catalog", shop, "-q", "add", tiny_photos_dir, "--index", "hnsw").exit_code == 0
    info = json.loads(run("--catalog", shop, "index", "info", "--json").output)
    assert info["kind"] == "faiss-hnsw" and info["count"] == 9 and info["factory"] == "HNSW32,Flat"

    built = run("--catalog", shop, "index", "build", "--kind", "ivfpq", "--recall", "0.9", "--json")
    assert built.exit_code == 0, built.output
    data = json.loads(built.output)
    assert data["kind"] == "faiss-ivfpq" and data["count"] == 9 and data["tuning"]["recall"] >= 0.9
    result = run("--catalog", shop, "search", query_photos["Banana"], "-k", "1", "--json")
    assert json.loads(result.output)["results"][0]["id"] == "Banana"

    auto = json.loads(run("--catalog", shop, "index", "build", "--kind", "auto", "--json").output)
    assert auto["kind"] == "faiss-flat"  # 9 vectors: exact is the right choice


def test_unknown_kind_and_bad_budget_are_clear_errors(tiny_catalog):
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "index", "build", "--kind", "annoy"])
    assert result.exit_code == 1 and "unknown index kind" in result.output
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "index", "build", "--budget", "lots"])
    assert result.exit_code == 1 and "not a size" in result.output
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "add", str(tiny_catalog), "--index", "milvus://"])
    assert result.exit_code != 0


def test_add_with_another_index_kind_is_refused(tiny_catalog, tiny_photos_dir):
    before = (tiny_catalog / "catalog.db").read_bytes()
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "add", str(tiny_photos_dir), "--index", "hnsw"])
    assert result.exit_code == 1 and "uses the faiss-flat index" in result.output
    assert (tiny_catalog / "catalog.db").read_bytes() == before
