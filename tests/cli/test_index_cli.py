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


def test_build_with_reduce_then_without(tiny_catalog, query_photos):
    built = run("--catalog", tiny_catalog, "index", "build", "--kind", "hnsw", "--reduce", "6", "--rerank", "20", "--json")
    assert built.exit_code == 0, built.output
    data = json.loads(built.output)
    assert data["kind"] == "faiss-hnsw" and data["dim"] == 6 and data["reduce"]["dim"] == 6 and data["rerank"] == 20
    assert data["reduce"]["from_dim"] == 1280 and data["tuning"]["recall"] >= 0.95
    info = json.loads(run("--catalog", tiny_catalog, "index", "info", "--json").output)
    assert info["dim"] == 6 and info["reduce"]["file"].startswith("models/") and info["rerank"] == 20
    assert (tiny_catalog / info["reduce"]["file"]).exists()
    result = run("--catalog", tiny_catalog, "search", query_photos["Banana"], "-k", "1", "--json")
    assert json.loads(result.output)["results"][0]["id"] == "Banana"

    text = run("--catalog", tiny_catalog, "index", "info").output
    assert "'dim': 6" in text and "reduce" in text

    back = json.loads(run("--catalog", tiny_catalog, "index", "build", "--kind", "flat", "--json").output)
    assert back["dim"] == 1280 and back["reduce"] is None and back["rerank"] == 0  # exact: nothing to re-rank
    assert not (tiny_catalog / info["reduce"]["file"]).exists()
    assert json.loads(run("--catalog", tiny_catalog, "index", "info", "--json").output)["reduce"] is None


def test_reduce_errors_are_clear(tiny_catalog):
    before = (tiny_catalog / "catalog.db").read_bytes()
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "index", "build", "--reduce", "256"])
    assert result.exit_code == 1 and "256-d PCA on 9 vectors" in result.output
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "index", "build", "--kind", "milvus://127.0.0.1:1",
                                      "--reduce", "4"])
    assert result.exit_code == 1 and "holds full vectors" in result.output
    result = CliRunner().invoke(cli, ["--catalog", str(tiny_catalog), "index", "build", "--whiten"])
    assert result.exit_code == 2 and "--whiten needs --reduce" in result.output
    assert (tiny_catalog / "catalog.db").read_bytes() == before
