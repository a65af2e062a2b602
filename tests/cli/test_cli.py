"""The CLI as a user runs it: commands, JSON output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from productlens.cli import cli


@pytest.fixture
def run(tiny_catalog):
    runner = CliRunner()

    def invoke(*args, catalog=tiny_catalog, env=None):
        base = ["--catalog", str(catalog)] if catalog else []
        return runner.invoke(cli, [*base, *map(str, args)], env=env, catch_exceptions=False)

    return invoke


def test_search_json(run, query_photos):
    result = run("search", query_photos["Banana"], "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["rank"] for r in data["results"]] == [1, 2]
    assert data["results"][0]["id"] == "Banana" and 0 < data["results"][0]["score"] <= 1


def test_search_table_filter_and_box(run, query_photos):
    run("update", "Banana", "--category", "Fruit", "--set", "price=0.25")
    result = run("search", query_photos["Banana"], "--where", "category = 'Fruit'", "--box", "0,0,1,1")
    assert result.exit_code == 0 and "Banana" in result.output and "Arla" not in result.output


def test_catalog_from_environment(run, tiny_catalog):
    result = run("info", "--json", catalog=None, env={"PRODUCTLENS_CATALOG": str(tiny_catalog)})
    assert result.exit_code == 0 and json.loads(result.output)["images"] == 9


def test_recognize_list_update_remove(run, query_photos):
    result = run("recognize", query_photos["Arla-Standard-Milk"], "--json")
    assert json.loads(result.output)["candidates"][0]["id"] == "Arla-Standard-Milk"
    assert "Arla-Standard-Milk" in run("recognize", query_photos["Arla-Standard-Milk"]).output
    run("update", "Banana", "--title", "Organic bananas", "--set", "brand=Chiquita")
    listed = json.loads(run("list", "--json", "--where", "brand = 'Chiquita'").output)
    assert [p["title"] for p in listed] == ["Organic bananas"]
    assert "removed 1 product(s) and 3 image(s)" in run("remove", "Banana").output
    assert json.loads(run("info", "--json").output)["products"] == 2


def test_calibrate_and_similar(run, tmp_path):
    from support import TINY_PRODUCTS, split_photos

    refused = run("calibrate")  # three consecutive frames per product: nothing to hold out honestly
    assert refused.exit_code == 1 and "--photos" in refused.output
    held_out = tmp_path / "held-out.csv"
    held_out.write_text("product_id,image\n" + "".join(f"{pid},{photo}\n" for pid, folder in TINY_PRODUCTS.items()
                                                       for photo in split_photos("val", folder, 2)))
    result = run("calibrate", "--photos", held_out, "--json")
    assert result.exit_code == 0 and 0 < json.loads(result.output)["threshold"] < 1
    table = run("calibrate", "--photos", held_out).output
    assert "unknown products rejected: " in table and "of 6 photos of 3 products" in table
    assert len(table.splitlines()) == 15  # summary (3 lines), header, 11 thresholds
    assert "stood in" not in table  # the catalogue-photos caveat is for calibrations without --photos
    similar = json.loads(run("similar", "Banana", "--json").output)
    assert "Banana" not in [r["id"] for r in similar["results"]]


def test_add_reports_summary_and_skips(run, tmp_path, bad_files, tiny_catalog):
    result = run("add", bad_files["empty.jpg"], "--product", "SKU-X")
    assert result.exit_code == 1  # a new product whose every image failed is not created
    assert "added 0 image(s), 0 duplicate(s), 1 skipped" in result.output and "[empty-file]" in result.output
    assert "1 product(s) not created, none of their images could be added: SKU-X" in result.output
    report = json.loads(run("add", bad_files["bomb.png"], "--product", "SKU-X", "--json").stdout)
    assert report["skipped"][0]["reason"] == "too-large" and report["products_without_images"] == ["SKU-X"]


def test_datasets_adapter_then_add(run, tmp_path):
    pytest.importorskip("productlens.catalog.datasets")
    from support import require_grocery

    require_grocery()
    out = tmp_path / "val.csv"
    assert run("datasets", "grocery-store", "--split", "val", "-o", out, catalog=None).exit_code == 0
    assert len(out.read_text().splitlines()) == 297
    written = run("datasets", "grocery-store", "--split", "val", "-o", out, "--json", catalog=None)
    assert json.loads(written.output) == {"rows": 296, "out": str(out)}  # rows under the header


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "productlens", *map(str, args)], capture_output=True, text=True, env=env)


def test_errors_exit_non_zero_with_a_message_and_change_nothing(tiny_catalog, tmp_path, query_photos):
    missing = _cli("--catalog", tmp_path / "none", "search", query_photos["Banana"])
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no catalogue at") and "Traceback" not in missing.stderr
    assert not (tmp_path / "none").exists()
    before = (tiny_catalog / "catalog.db").read_bytes()
    wrong = _cli("--catalog", tiny_catalog, "add", query_photos["Banana"], "--product", "X", "--model", "efficientnet-lite2")
    assert wrong.returncode == 1 and "efficientnet-lite2" in wrong.stderr and "ModelMismatchError" not in wrong.stderr
    bad_filter = _cli("--catalog", tiny_catalog, "search", query_photos["Banana"], "--where", "price <")
    assert bad_filter.returncode == 1 and bad_filter.stderr.startswith("Error: expected a value")
    assert (tiny_catalog / "catalog.db").read_bytes() == before
    usage = _cli("search", query_photos["Banana"], env={"PATH": "/usr/bin"})
    assert usage.returncode == 2 and "--catalog" in usage.stderr


def test_malformed_source_creates_no_catalogue(tmp_path):
    bad = tmp_path / "products.csv"
    bad.write_text("title,image\nx,y.jpg\n")
    result = _cli("--catalog", tmp_path / "shop", "add", bad)
    assert result.returncode == 1 and "no product id column" in result.stderr
    assert not (tmp_path / "shop").exists()


def test_figures_from_catalogue_photos_carry_the_caveat():
    """`calibrate` without --photos says its catalogue photos stood in for shoppers'; with labelled
    photos it does not (the source names the queries, engine/calibrate.describe)."""
    import numpy as np

    from productlens.cli.catalog_cmds import calibration_lines
    from productlens.engine.calibrate import describe
    from productlens.recognition import CATALOGUE_PHOTOS, calibrate

    rng = np.random.default_rng(0)
    known, unknown = rng.uniform(0.5, 1.0, (20, 3)), rng.uniform(0.0, 0.6, (20, 3))
    right = np.arange(20) % 4 != 0
    queries = [(None, f"p{i}", (), ("p0",)) for i in range(20)]
    for what, caveat in ((CATALOGUE_PHOTOS, True), ("labelled photos", False)):
        lines = calibration_lines(calibrate(known, right, unknown, describe(queries, queries, what)))
        assert any("calibrate --photos" in line for line in lines) == caveat, what
