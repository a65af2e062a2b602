"""The CLI on the fast tier (tiny network, in-memory index): commands call the Catalog and print
what it returns; errors are one line and a non-zero exit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from productlens.cli import cli

pytestmark = pytest.mark.fast


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_add_search_list_and_describe(tiny_model, fast_photos, fast_queries, tmp_path):
    shop = tmp_path / "shop"
    added = run("--catalog", shop, "add", fast_photos, "--model", tiny_model, "--index", "memory", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["added"] == 12
    found = run("--catalog", shop, "search", fast_queries["green-yellow"], "-k", "2", "--json")
    assert [r["id"] for r in json.loads(found.output)["results"]][0] == "green-yellow"
    info = json.loads(run("--catalog", shop, "index", "info", "--json").output)
    assert info["kind"] == "memory" and info["count"] == 12 and info["file"] is None
    versions = json.loads(run("--catalog", shop, "models", "--json").output)
    assert [(v["version"], v["active"]) for v in versions] == [("imagenet", True)]
    listed = run("--catalog", shop, "list", "--where", "id like 'red%'", "--json")
    assert [p["id"] for p in json.loads(listed.output)] == ["red-blue"]
    rebuilt = json.loads(run("--catalog", shop, "index", "build", "--kind", "flat", "--json").output)
    assert rebuilt["kind"] == "faiss-flat" and rebuilt["count"] == 12
    assert json.loads(run("--catalog", shop, "info", "--json").output)["index"] == "faiss-flat"


def test_bad_input_is_one_line_and_changes_nothing(fast_catalog, fast_queries):
    before = (fast_catalog / "catalog.db").read_bytes()
    unknown_kind = run("--catalog", fast_catalog, "index", "build", "--kind", "annoy")
    assert unknown_kind.exit_code == 1 and "unknown index kind 'annoy'" in unknown_kind.output
    assert "Traceback" not in unknown_kind.output
    bad_filter = run("--catalog", fast_catalog, "search", fast_queries["red-blue"], "--where", "price <")
    assert bad_filter.exit_code == 1 and bad_filter.output.startswith("Error: expected a value")
    no_version = run("--catalog", fast_catalog, "models", "use", "v9")
    assert no_version.exit_code == 1 and "no model version 'v9'" in no_version.output
    assert (fast_catalog / "catalog.db").read_bytes() == before
