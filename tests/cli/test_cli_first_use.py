"""What a new user tripped on in the CLI (issue 23), on the fast tier: each test failed before its fix."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from PIL import Image

from tiny import write_photos

from productlens import Catalog
from productlens.cli import cli

pytestmark = pytest.mark.fast


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def held_out_csv(tmp_path) -> None:
    """tmp_path/val.csv: one new synthetic photo of each product per line (validation photos)."""
    photos = write_photos(tmp_path / "val", first_seed=300)
    (tmp_path / "val.csv").write_text("product_id,image\n" + "".join(
        f"{p.parent.name},{p}\n" for p in sorted(photos.glob("*/*.jpg"))))


def test_products_whose_every_image_fails_are_not_created(fast_catalog, fast_photos, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    (tmp_path / "notes.jpg").write_text("not a photo")
    good = next(fast_photos.glob("red-blue/*.jpg"))
    feed = tmp_path / "feed.csv"
    feed.write_text("product_id,title,image\n"
                    f"ghost-1,Ghost one,{tmp_path / 'missing.jpg'}\n"
                    f"ghost-2,Ghost two,{tmp_path / 'notes.jpg'}\n"
                    f"ghost-2,Ghost two,{fifo}\n"
                    f"real-1,Real one,{good}\n"
                    f"real-1,Real one,{tmp_path / 'missing.jpg'}\n")
    added = run("--catalog", fast_catalog, "add", feed)
    assert added.exit_code == 1, added.output
    assert "2 product(s) not created, none of their images could be added: ghost-1, ghost-2" in added.output
    assert "products: 1 new" in added.output  # the summary counts only what was made
    with Catalog.open(fast_catalog) as shop:
        ids = {p.id for p in shop.list_products()}
        assert "real-1" in ids and not {"ghost-1", "ghost-2"} & ids
    as_json = run("--catalog", fast_catalog, "add", feed, "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.output.split("\nError:")[0])
    assert report["products_without_images"] == ["ghost-1", "ghost-2"] and report["products_created"] == 0


def test_an_add_whose_images_all_fail_exits_non_zero(fast_catalog, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    added = run("--catalog", fast_catalog, "add", tmp_path / "empty.jpg", "--product", "red-blue")
    assert added.exit_code == 1 and "none of the 1 image(s) could be added" in added.output


def test_a_filter_on_a_field_no_product_has_says_so(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        shop.update_product("red-blue", attributes={"brand": "Acme"})
    for args in (("list",), ("search", fast_queries["red-blue"])):
        answer = run("--catalog", fast_catalog, *args, "--where", "colour = 'red'")
        assert answer.exit_code == 1, answer.output
        assert answer.output == ("Error: no product has the field 'colour'; the fields are: "
                                 "brand, category, description, id, title\n")
    known = run("--catalog", fast_catalog, "list", "--where", "brand = 'Acme'", "--json")
    assert [p["id"] for p in json.loads(known.output)] == ["red-blue"]
    nobody = run("--catalog", fast_catalog, "list", "--where", "brand = 'Nobody'", "--json")
    assert nobody.exit_code == 0 and json.loads(nobody.output) == []  # a known field matching nothing is no error


def test_a_misspelt_image_column_on_existing_products_is_refused(fast_catalog, fast_photos, tmp_path):
    before = (fast_catalog / "catalog.db").read_bytes()
    feed = tmp_path / "feed.csv"
    feed.write_text(f"product_id,title,img\nred-blue,Red blue,{next(fast_photos.glob('red-blue/*.jpg'))}\n")
    added = run("--catalog", fast_catalog, "add", feed)
    assert added.exit_code == 1 and "did you mean 'image' for 'img'?" in added.output
    assert (fast_catalog / "catalog.db").read_bytes() == before
    with Catalog.open(fast_catalog) as shop:
        assert "img" not in shop.get_product("red-blue").attributes


def test_re_adding_a_feed_says_which_edits_it_overwrote(fast_catalog, fast_photos, tmp_path):
    photo = next(fast_photos.glob("red-blue/*.jpg"))
    feed = tmp_path / "feed.csv"
    feed.write_text(f"product_id,title,brand,image\nred-blue,Red blue,Acme,{photo}\n")
    assert run("--catalog", fast_catalog, "add", feed).exit_code == 0
    assert run("--catalog", fast_catalog, "update", "red-blue", "--title", "Red & blue (edited)",
               "--set", "brand=Acme Ltd", "--set", "colour=red").exit_code == 0
    again = run("--catalog", fast_catalog, "add", feed)
    assert again.exit_code == 0
    assert ("overwrote 2 stored value(s) with the feed's (the feed wins):\n"
            "  red-blue: title 'Red & blue (edited)' -> 'Red blue'\n"
            "  red-blue: brand 'Acme Ltd' -> 'Acme'\n") in again.output
    with Catalog.open(fast_catalog) as shop:
        product = shop.get_product("red-blue")
    assert product.title == "Red blue" and product.attributes == {"brand": "Acme", "colour": "red"}
    quiet = json.loads(run("--catalog", fast_catalog, "add", feed, "--json").output)
    assert quiet["overwritten"] == []  # nothing left to overwrite


def test_train_budget_needs_a_unit_and_reports_what_it_trained(fast_catalog, tmp_path):
    bare = run("--catalog", fast_catalog, "train", "--budget", "2")
    assert bare.exit_code == 2 and "'2': give a unit, e.g. 2m or 2s" in bare.output
    held_out_csv(tmp_path)
    trained = run("--catalog", fast_catalog, "train", "--backbone", "tiny-test", "--hidden", "0", "--no-tta",
                  "--epochs", "1", "--views", "1", "--val", tmp_path / "val.csv", "--budget", "1s", "--json")
    assert trained.exit_code == 0, trained.output
    out = json.loads(trained.output)
    crops = [c for c in out["candidates"] if c["stage"] == "crop"]
    assert crops[0]["note"].startswith("used untried, about") and "kept for the final training" in crops[0]["note"]
    # A default run adapts the backbone after the search: the other crops leave their time to it.
    assert all(c["note"].startswith("not tried: its time goes to adapting the backbone") for c in crops[1:])
    meta = json.loads((fast_catalog / "models" / out["version"].split("/")[1] / "version.json").read_text())
    assert meta["config"]["crop"] == crops[0]["setting"]["crop"]  # the one used is not reported as skipped


def test_eval_report_of_another_version_names_this_version_and_the_active_model(fast_catalog, tmp_path):
    held_out_csv(tmp_path)
    trained = run("--catalog", fast_catalog, "train", "--backbone", "tiny-test", "--crop", "1", "--hidden", "0",
                  "--no-tta", "--epochs", "2", "--views", "1", "--val", tmp_path / "val.csv", "--json")
    version = json.loads(trained.output)["version"].split("/")[1]
    report = tmp_path / "report"
    done = run("--catalog", fast_catalog, "eval", "--queries", tmp_path / "val.csv", "--model", version,
               "--baselines", "", "--report", report)
    assert done.exit_code == 0, done.output
    page = (report / "report.html").read_text()
    head = page[page.index("<thead>"):page.index("</thead>")]
    assert f"This version ({version})" in head
    assert "Active model (imagenet)" in head and "This version (imagenet)" not in page
    assert f"Loss and validation scores per epoch while {version} was trained." in page
    assert "the active version's training" not in page


def test_small_inconsistencies_of_the_cli(fast_catalog, fast_queries, tmp_path):
    bad_box = run("--catalog", fast_catalog, "search", fast_queries["red-blue"], "--box", "1,2,3")
    assert bad_box.exit_code == 2 and "box '1,2,3': expected four numbers x0,y0,x1,y1" in bad_box.output
    unchanged = run("--catalog", fast_catalog, "update", "red-blue")
    assert unchanged.exit_code == 2 and "nothing to change" in unchanged.output
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (5, 5), (200, 30, 30)).save(tiny)
    refused = run("--catalog", fast_catalog, "add", tiny, "--product", "red-blue", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.output.split("\nError:")[0])["skipped"][0]["reason"] == "too-small"


def batch_of_queries(catalog, queries, tmp_path, command: str, done: str) -> tuple[list, list[dict]]:
    """`command` run on a folder of the query photos and one non-photo, `--format jsonl`: the
    folder's photos in order and the JSON lines, one per photo (the non-photo's an error)."""
    folder = tmp_path / "queries"
    folder.mkdir()
    for photo in queries.values():
        (folder / photo.name).write_bytes(photo.read_bytes())
    (folder / "notes.jpg").write_text("not a photo")
    batch = run("--catalog", catalog, command, folder, "-k", "3", "--format", "jsonl")
    assert batch.exit_code == 1 and f"1 of 5 photo(s) could not be {done}" in batch.output
    lines = [json.loads(line) for line in batch.stdout.splitlines()]
    photos = sorted(folder.glob("*.jpg"))
    assert [line["query"] for line in lines] == [str(p) for p in photos]
    return photos, lines


def test_batch_search_of_a_folder_equals_one_by_one_search(fast_catalog, fast_queries, tmp_path):
    photos, lines = batch_of_queries(fast_catalog, fast_queries, tmp_path, "search", "searched")
    for photo, line in zip(photos, lines):
        if photo.name == "notes.jpg":
            assert line["reason"] == "not-an-image" and "results" not in line
            continue
        alone = json.loads(run("--catalog", fast_catalog, "search", photo, "-k", "3", "--json").stdout)["results"]
        assert [(r["id"], r["image_id"]) for r in line["results"]] == [(r["id"], r["image_id"]) for r in alone]
        assert [r["score"] for r in line["results"]] == pytest.approx([r["score"] for r in alone], abs=1e-5)
    listing = tmp_path / "photos.txt"
    listing.write_text("".join(f"queries/{p.name}\n" for p in photos if p.name != "notes.jpg"))
    as_csv = run("--catalog", fast_catalog, "search", listing, "-k", "1", "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = as_csv.stdout.splitlines()
    assert rows[0].startswith("query,rank,score,id") and len(rows) == 5
    assert {row.split(",")[3] for row in rows[1:]} == set(fast_queries)


def test_batch_recognize_of_a_folder_equals_one_by_one_recognize(fast_catalog, fast_queries, tmp_path):
    photos, lines = batch_of_queries(fast_catalog, fast_queries, tmp_path, "recognize", "recognised")
    for photo, line in zip(photos, lines):
        if photo.name == "notes.jpg":
            assert line["reason"] == "not-an-image" and "product_id" not in line
            continue
        alone = json.loads(run("--catalog", fast_catalog, "recognize", photo, "--format", "jsonl").stdout)
        assert (line["known"], line["product_id"]) == (alone["known"], alone["product_id"])
        assert line["similarity"] == pytest.approx(alone["similarity"], abs=1e-5)
        assert line["confidence"] == pytest.approx(alone["confidence"], abs=1e-5)
    listing = tmp_path / "photos.txt"
    listing.write_text("".join(f"queries/{p.name}\n" for p in photos if p.name != "notes.jpg"))
    as_json = run("--catalog", fast_catalog, "recognize", listing, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert [d["query"] for d in json.loads(as_json.stdout)] == [str(p) for p in photos if p.name != "notes.jpg"]


def test_info_prints_calibrations_one_line_each(fast_catalog, tmp_path):
    held_out_csv(tmp_path)
    assert run("--catalog", fast_catalog, "-q", "calibrate", "--photos", tmp_path / "val.csv").exit_code == 0
    with Catalog.open(fast_catalog) as shop:
        fitted = shop.info()["calibrations"]
    assert fitted
    shown = run("--catalog", fast_catalog, "info")
    assert shown.exit_code == 0 and "{'" not in shown.output  # a list of dicts before
    for c in fitted:
        assert f"{c['name']} for {c['model_key']}" in shown.output


def test_empty_cells_in_a_later_row_of_one_product_keep_what_an_earlier_row_gave(fast_catalog, fast_photos, tmp_path):
    first, second = sorted(fast_photos.glob("red-blue/*.jpg"))[:2]
    feed = tmp_path / "feed.csv"
    feed.write_text("product_id,title,category,description,brand,image\n"
                    f"twice,Twice seen,Milk,Whole milk,Arla,{first}\n"
                    f"twice,,,,,{second}\n")
    assert run("--catalog", fast_catalog, "-q", "add", feed).exit_code == 0
    with Catalog.open(fast_catalog) as shop:
        product = shop.get_product("twice")
    # an empty category cell cleared the category while an empty attribute cell kept its value
    assert (product.title, product.category, product.description) == ("Twice seen", "Milk", "Whole milk")
    assert product.attributes == {"brand": "Arla"}


def test_eval_says_which_queries_it_skipped_and_why(fast_catalog, fast_queries, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    queries = tmp_path / "queries.csv"
    queries.write_text("product_id,image\n" + "".join(f"{p},{photo}\n" for p, photo in fast_queries.items())
                       + f"red-blue,{fifo}\n")
    done = run("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "", "--json")
    assert done.exit_code == 0, done.output
    metrics = json.loads(done.stdout)
    assert metrics["queries"] == 4 and metrics["queries_skipped"] == 1
    assert metrics["skipped_queries"] == [{"image": str(fifo), "product_id": "red-blue", "reason": "not-a-file"}]
    assert f"skipped query {fifo}: not-a-file" in done.stderr  # dropped without a word before


def test_remove_where_with_a_dry_run_and_remove_image(fast_catalog):
    planned = run("--catalog", fast_catalog, "remove", "--where", "id like 'red%'", "--dry-run")
    assert planned.exit_code == 0 and planned.output == "would remove 1 product(s) and 3 image(s): red-blue\n"
    with Catalog.open(fast_catalog) as shop:
        assert shop.get_product("red-blue").image_count == 3
        image_id = shop.get_images("green-yellow")[0].id
    assert run("--catalog", fast_catalog, "remove").exit_code == 2  # ids or --where
    removed = json.loads(run("--catalog", fast_catalog, "remove", "--where", "id like 'red%'", "--json").stdout)
    assert removed == {"products": 1, "images": 3, "ids": ["red-blue"], "dry_run": False}
    unknown = run("--catalog", fast_catalog, "remove-image", 99999)
    assert unknown.exit_code == 1 and "no image with id 99999" in unknown.output
    assert run("--catalog", fast_catalog, "remove-image", image_id).output == "removed 1 image(s)\n"
    with Catalog.open(fast_catalog) as shop:
        assert "red-blue" not in {p.id for p in shop.list_products()}
        assert image_id not in {im.id for im in shop.get_images("green-yellow")}
        assert shop.info()["indexed_vectors"] == 8
