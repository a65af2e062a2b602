"""Readers for the folder layouts (product, category/product) and for bulk edit files."""

from __future__ import annotations

import json

import pytest

from productlens.catalog.ingest import read_edits, read_source
from productlens.errors import IngestError

pytestmark = pytest.mark.fast


def photo_tree(root, layout: dict[str, list[str]]) -> None:
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / folder / name).write_bytes(b"x")


def test_category_product_layout(tmp_path):
    photo_tree(tmp_path, {"Fruit/Banana": ["a.jpg", "b.jpg"], "Milk/Oat-Milk": ["c.jpg"], "Milk/Skimmed": []})
    items = list(read_source(tmp_path, layout="category/product"))
    assert [(it.product.id, it.product.category, it.image and it.image.name) for it in items] == [
        ("Banana", "Fruit", "a.jpg"), ("Banana", "Fruit", "b.jpg"), ("Oat-Milk", "Milk", "c.jpg"),
        ("Skimmed", "Milk", None)]
    assert items[2].product.title == "Oat Milk" and items[2].title_derived


def test_a_category_for_every_product_of_a_folder_or_image(tmp_path):
    photo_tree(tmp_path, {"Banana": ["a.jpg"], "Kiwi": ["b.jpg"]})
    assert {it.product.category for it in read_source(tmp_path, category="Fruit")} == {"Fruit"}
    [single] = read_source(tmp_path / "Kiwi" / "b.jpg", product="Kiwi", category="Fruit")
    assert (single.product.id, single.product.category) == ("Kiwi", "Fruit")


@pytest.mark.parametrize("tree, message", [
    ({"Fruit/Banana": ["a.jpg"], "Snacks/Banana": ["b.jpg"]}, "product 'Banana' is under two categories"),
    ({"Fruit": ["a.jpg"]}, "has no product sub-folders; lay it out as"),
    ({"Fruit/Banana": ["a.jpg"], "Fruit/.": ["loose.jpg"]}, "mixes product folders with 1 loose image(s)"),
])
def test_category_layout_mistakes_are_named(tmp_path, tree, message):
    photo_tree(tmp_path, tree)
    with pytest.raises(IngestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_source(tmp_path, layout="category/product"))


def test_layout_and_category_do_not_apply_to_tables(tmp_path):
    (tmp_path / "feed.csv").write_text("product_id,image\nx,a.jpg\n")
    with pytest.raises(IngestError, match="a table gives each product's category in its own column"):
        list(read_source(tmp_path / "feed.csv", category="Fruit"))
    with pytest.raises(IngestError, match="unknown folder layout 'product/category'"):
        list(read_source(tmp_path, layout="product/category"))


def test_edits_from_csv_and_jsonl(tmp_path):
    (tmp_path / "edits.csv").write_text("sku,title,category,price\nA,,Fruit,1.5\nB,Bee,,\nA,Apple,,\n")
    assert read_edits(tmp_path / "edits.csv") == {
        "A": {"category": "Fruit", "title": "Apple", "attributes": {"price": "1.5"}}, "B": {"title": "Bee"}}
    lines = [{"id": "A", "price": 1.5, "colour": None, "description": None}, {"id": "B", "tags": ["x"]}]
    (tmp_path / "edits.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_edits(tmp_path / "edits.jsonl") == {
        "A": {"attributes": {"price": 1.5, "colour": None}, "description": None},  # null removes / clears
        "B": {"attributes": {"tags": ["x"]}}}


@pytest.mark.parametrize("text, message", [
    ("product_id,image\nA,a.jpg\n", "edits set product fields; add images with `add`"),
    ("title\nApple\n", "no product id column"),
    ("product_id,title\n,Apple\n", "edits.csv:2: row has no product id"),
])
def test_edit_file_mistakes_are_named(tmp_path, text, message):
    (tmp_path / "edits.csv").write_text(text)
    with pytest.raises(IngestError, match=message):
        read_edits(tmp_path / "edits.csv")


def test_image_paths_are_absolute_whatever_the_working_directory(tmp_path, monkeypatch):
    photo_tree(tmp_path, {"photos/Banana": ["a.jpg"]})
    (tmp_path / "feed.csv").write_text("product_id,image\nKiwi,photos/Banana/a.jpg\n")
    monkeypatch.chdir(tmp_path)
    sources = [it.image for source in ("photos", "feed.csv") for it in read_source(source)]
    sources.append(next(read_source("photos/Banana/a.jpg", product="Banana")).image)
    assert sources == [tmp_path / "photos" / "Banana" / "a.jpg"] * 3  # recorded as sources: usable from anywhere
