"""Shaping a catalogue from the command line: categories on folder ingest, bulk edits, quiet
updates, `--catalog` after the command, reversed boxes, and one-line errors without class names."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from productlens.cli import cli

pytestmark = pytest.mark.fast


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def categories(shop) -> dict[str, str | None]:
    return {p["id"]: p["category"] for p in json.loads(run("--catalog", shop, "list", "--json").stdout)}


def test_add_folder_with_a_category(fast_photos, tiny_model, tmp_path):
    shop = tmp_path / "shop"
    added = run("--catalog", shop, "-q", "add", fast_photos, "--model", tiny_model, "--index", "memory",
                "--category", "Snacks")
    assert added.exit_code == 0 and added.stdout == ""
    assert set(categories(shop).values()) == {"Snacks"} and len(categories(shop)) == 4


def test_add_folder_laid_out_category_then_product(fast_photos, tiny_model, tmp_path):
    tree = tmp_path / "photos"
    for product, category in (("red-blue", "Milk"), ("green-yellow", "Milk"), ("black-white", "Fruit")):
        shutil.copytree(fast_photos / product, tree / category / product)
    shop = tmp_path / "shop"
    added = run("--catalog", shop, "add", tree, "--layout", "category/product", "--model", tiny_model,
                "--index", "memory", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["added"] == 9
    assert categories(shop) == {"black-white": "Fruit", "green-yellow": "Milk", "red-blue": "Milk"}

    flat = run("--catalog", tmp_path / "other", "add", tree, "--model", tiny_model, "--index", "memory", "--json")
    assert json.loads(flat.stdout)["products_created"] == 2  # without --layout, Milk and Fruit are products


def test_category_options_that_cannot_apply_are_refused(fast_photos, tiny_model, tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text(f"product_id,image\nx,{next((fast_photos / 'red-blue').iterdir())}\n")
    table = run("--catalog", tmp_path / "shop", "add", feed, "--category", "Snacks")
    assert table.exit_code == 1 and "a table gives each product's category in its own column" in table.output
    both = run("--catalog", tmp_path / "shop", "add", fast_photos, "--layout", "category/product",
               "--category", "Snacks")
    assert both.exit_code == 1 and "give no category as well" in both.output
    flat = run("--catalog", tmp_path / "shop", "add", fast_photos, "--layout", "category/product")
    assert flat.exit_code == 1 and "has no product sub-folders" in flat.output  # red-blue/ holds photos, not folders
    assert not (tmp_path / "shop").exists()


def test_update_from_a_file_and_quietly(fast_catalog, tmp_path):
    edits = tmp_path / "edits.csv"
    edits.write_text("product_id,category,price,title\nred-blue,Dairy,2.49,\nblack-white,,0.99,Zebra bar\n")
    result = run("--catalog", fast_catalog, "update", "--from", edits)
    assert result.exit_code == 0 and result.stdout == "updated 2 product(s)\n"
    products = {p["id"]: p for p in json.loads(run("--catalog", fast_catalog, "list", "--json").stdout)}
    assert products["red-blue"]["category"] == "Dairy" and products["red-blue"]["title"] == "red blue"
    assert products["black-white"]["category"] == "Fruit" and products["black-white"]["title"] == "Zebra bar"
    assert products["black-white"]["attributes"] == {"price": "0.99"}

    before = (fast_catalog / "catalog.db").read_bytes()
    typo = tmp_path / "typo.csv"
    typo.write_text("product_id,category\nred-blue,Milk\nred-bleu,Milk\n")
    refused = run("--catalog", fast_catalog, "update", "--from", typo)
    assert refused.exit_code == 1 and refused.output == "Error: no product with id 'red-bleu'; nothing was changed\n"
    assert (fast_catalog / "catalog.db").read_bytes() == before

    assert run("--catalog", fast_catalog, "update", "red-blue", "--set", "brand=Arla", "-q").stdout == ""
    assert run("--catalog", fast_catalog, "-q", "update", "red-blue", "--unset", "brand").stdout == ""
    assert run("--catalog", fast_catalog, "update", "red-blue", "--title", "Red").stdout == "updated red-blue\n"
    shown = json.loads(run("--catalog", fast_catalog, "update", "red-blue", "--set", "size=1l", "--json").stdout)
    assert shown["title"] == "Red" and shown["attributes"] == {"price": "2.49", "size": "1l"}


def test_catalog_option_after_the_command(fast_catalog, fast_queries):
    found = run("search", "--catalog", fast_catalog, fast_queries["red-blue"], "-k", "1", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["results"][0]["id"] == "red-blue"
    assert json.loads(run("models", "--catalog", fast_catalog, "--json").stdout)[0]["version"] == "imagenet"
    assert json.loads(run("index", "info", "--catalog", fast_catalog, "--json").stdout)["kind"] == "memory"
    missing = run("models", "use", "--catalog", fast_catalog, "v9")
    assert missing.exit_code == 1 and "no model version 'v9'" in missing.output
    none = CliRunner().invoke(cli, ["search", str(fast_queries["red-blue"])], env={"PRODUCTLENS_CATALOG": None})
    assert none.exit_code == 2 and "--catalog" in none.output


def test_reversed_box_is_swapped_with_a_note(fast_catalog, fast_queries):
    photo = fast_queries["purple-orange"]
    swapped = run("--catalog", fast_catalog, "search", photo, "--box", "0.9,0.9,0.1,0.2", "--json")
    assert swapped.exit_code == 0
    assert swapped.stderr == "note: --box 0.9,0.9,0.1,0.2: corners reversed; using 0.1,0.2,0.9,0.9\n"
    ordered = run("--catalog", fast_catalog, "search", photo, "--box", "0.1,0.2,0.9,0.9", "--json")
    assert ordered.stderr == "" and json.loads(ordered.stdout) == json.loads(swapped.stdout)
    whole = run("--catalog", fast_catalog, "search", photo, "--json")
    assert json.loads(whole.stdout)["results"] != json.loads(swapped.stdout)["results"]  # the box was used


def test_error_lines_name_no_class_unless_verbose(fast_catalog, fast_queries):
    bad = run("--catalog", fast_catalog, "search", fast_queries["red-blue"], "--where", "price <")
    assert bad.exit_code == 1 and bad.output.startswith("Error: expected a value") and "Error:" not in bad.output[7:]
    assert "FilterSyntaxError" not in bad.output and len(bad.output.splitlines()) == 1
    verbose = run("--catalog", fast_catalog, "-v", "search", fast_queries["red-blue"], "--where", "price <")
    assert verbose.exit_code == 1 and verbose.output.startswith("Error: FilterSyntaxError: expected a value")


def test_a_misspelt_image_column_exits_1_naming_the_columns(piped, fast_photos, tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text(f"id,img\nred-blue,{next((fast_photos / 'red-blue').iterdir())}\n")
    result = piped("--catalog", tmp_path / "shop", "add", feed)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {feed}: no image column: expected product_id (or id, sku) and image")
    assert line.endswith("found id, img; did you mean 'image' for 'img'?")
    assert not (tmp_path / "shop").exists()
