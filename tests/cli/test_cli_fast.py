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


def test_a_products_only_table_updates_products_that_have_photos(tiny_model, fast_photos, tmp_path):
    """`add prices.csv` with no image column: an update of products that have photos; for a new
    catalogue (or a product without photos) an error naming the expected columns, creating nothing."""
    prices = tmp_path / "prices.csv"
    prices.write_text("product_id,price\nred-blue,2.50\ngreen-yellow,3\n")
    new = tmp_path / "new-shop"
    refused = run("--catalog", new, "add", prices, "--model", tiny_model, "--index", "memory")
    assert refused.exit_code == 1 and "no image column: expected product_id" in refused.output
    assert not new.exists()
    shop = tmp_path / "shop"
    assert run("--catalog", shop, "add", fast_photos, "--model", tiny_model, "--index", "memory").exit_code == 0
    updated = run("--catalog", shop, "add", prices, "--json")
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output)["products_updated"] == 2 and json.loads(updated.output)["added"] == 0
    listed = json.loads(run("--catalog", shop, "list", "--where", "price > 2.9", "--json").output)
    assert [p["id"] for p in listed] == ["green-yellow"]
    prices.write_text("product_id,price\nred-blue,2.75\nno-photos,1\n")
    refused = run("--catalog", shop, "add", prices)
    assert refused.exit_code == 1 and "product 'no-photos' has no photos in the catalogue" in refused.output
    assert [p["attributes"]["price"] for p in json.loads(run("--catalog", shop, "list", "--json").output)
            if p["id"] == "red-blue"] == ["2.50"]  # the malformed table changed nothing
