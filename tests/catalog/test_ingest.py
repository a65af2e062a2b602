from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from productlens import Catalog
from productlens.catalog.datasets import grocery_classes, write_grocery_csv
from productlens.catalog.ingest import read_source, title_from_name
from productlens.errors import IngestError, NotAFileError
from productlens.images import read_bytes

from guards import time_limit
from support import GROCERY, require_grocery


def test_title_from_name():
    assert title_from_name("Arla-Standard-Milk") == "Arla Standard Milk"
    assert title_from_name("oat__milk_1l") == "oat milk 1l"


def test_folder_tree_gives_one_product_per_folder(tmp_path):
    for pid in ("SKU-1", "SKU-2"):
        (tmp_path / pid / "sub").mkdir(parents=True)
        (tmp_path / pid / "a.jpg").write_bytes(b"x")
        (tmp_path / pid / "sub" / "b.png").write_bytes(b"x")
    (tmp_path / "SKU-2" / ".hidden.jpg").write_bytes(b"x")
    items = list(read_source(tmp_path))
    assert [(i.product.id, i.image.name) for i in items] == [
        ("SKU-1", "a.jpg"), ("SKU-1", "b.png"), ("SKU-2", "a.jpg"), ("SKU-2", "b.png")
    ]
    assert items[0].product.title == "SKU 1" and items[0].title_derived


def test_folder_without_product_folders_is_an_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(IngestError, match="--product"):
        list(read_source(tmp_path))


def test_single_image_needs_product(tmp_path):
    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    with pytest.raises(IngestError, match="--product"):
        list(read_source(img))
    [item] = read_source(img, product="SKU9")
    assert item.product.id == "SKU9" and item.image == img


def test_csv_rows_with_attributes_and_relative_paths(tmp_path):
    (tmp_path / "img").mkdir()
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(
        "product_id,image,title,category,description,brand,price\n"
        "M1,img/a.jpg,Oat Milk,Milk,Creamy,Oatly,2.50\n"
        "M1,img/b.jpg,Oat Milk,Milk,Creamy,Oatly,2.50\n"
        "J1,,Orange Juice,Juice,,Bravo,\n",
        encoding="utf-8",
    )
    items = list(read_source(csv_path))
    assert [i.product.id for i in items] == ["M1", "M1", "J1"]
    assert items[0].image == tmp_path / "img" / "a.jpg"
    assert items[0].product.attributes == {"brand": "Oatly", "price": "2.50"}
    assert items[0].product.category == "Milk" and items[0].product.description == "Creamy"
    assert items[2].image is None and items[2].product.attributes == {"brand": "Bravo"}


def test_jsonl_with_image_lists_and_typed_values(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps({"product_id": "A", "images": ["x.jpg", "/abs/y.jpg"], "price": 3, "organic": True}) + "\n\n",
        encoding="utf-8",
    )
    items = list(read_source(path))
    assert [str(i.image) for i in items] == [str(tmp_path / "x.jpg"), "/abs/y.jpg"]
    assert items[0].product.attributes == {"price": 3, "organic": True}
    assert items[0].product.title == "A"


@pytest.mark.parametrize(
    "content, match",
    [("title,image\nx,y.jpg\n", "no product id column"), ("", "empty")],
)
def test_malformed_csv(tmp_path, content, match):
    path = tmp_path / "p.csv"
    path.write_text(content)
    with pytest.raises(IngestError, match=match):
        list(read_source(path))


def test_malformed_jsonl(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"product_id": "A"}\n{oops\n')
    with pytest.raises(IngestError, match=":2: invalid JSON"):
        list(read_source(path))


def test_grocery_adapter_writes_an_ingestable_csv(tmp_path):
    require_grocery()
    classes = grocery_classes(GROCERY)
    assert len(classes) == 81
    milk = next(c for c in classes if c.name == "Arla-Ecological-Medium-Fat-Milk")
    assert milk.title == "Skimmed milk Ecological 1.5%" and milk.coarse_name == "Milk" and milk.group == "Packages"
    out = tmp_path / "deep" / "train.csv"
    assert write_grocery_csv(GROCERY, "train", out, iconic=True) == 2640 + 81
    items = list(read_source(out))
    assert len(items) == 2721 and all(i.image.exists() for i in items[:50] + items[-81:])
    assert items[-1].image.name.endswith("_Iconic.jpg")
    assert {i.product.category for i in items} >= {"Milk", "Apple"}


# --- special files in a folder tree: passed on to be reported, never dropped or opened -------


def _tree_with_special_files(root: Path, photo: bytes = b"x") -> Path:
    product = root / "SKU-1"
    (product / "sub").mkdir(parents=True)
    (product / "a.jpg").write_bytes(photo)
    os.mkfifo(product / "fifo.jpg")
    (product / "loop.jpg").symlink_to(product / "loop.jpg")
    (product / "linked-folder").symlink_to(product / "sub")  # not walked into: reported instead
    (product / "sub" / "b.jpg").write_bytes(photo)
    return product


def test_folder_tree_passes_fifos_and_symlink_loops_on(tmp_path):
    product = _tree_with_special_files(tmp_path)
    with time_limit(5):
        items = list(read_source(tmp_path))
    assert sorted(str(i.image.relative_to(product)) for i in items) == [
        "a.jpg", "fifo.jpg", "linked-folder", "loop.jpg", "sub/b.jpg"
    ]
    for name in ("fifo.jpg", "loop.jpg", "linked-folder"):
        with pytest.raises(NotAFileError), time_limit(5):
            read_bytes(product / name)


def test_a_loose_fifo_named_like_a_photo_counts_as_a_loose_image(tmp_path):
    (tmp_path / "SKU-1").mkdir()
    os.mkfifo(tmp_path / "loose.jpg")
    with pytest.raises(IngestError, match="loose image"), time_limit(5):
        list(read_source(tmp_path))


def test_add_reports_special_files_as_skipped_and_returns(tiny_catalog, query_photos, tmp_path):
    """A FIFO in a folder or named by a CSV row hung `add` (and every writer after it) for good."""
    photo = query_photos["Banana"].read_bytes()
    product = _tree_with_special_files(tmp_path / "tree", photo)
    table = tmp_path / "rows.csv"
    table.write_text(f"product_id,image\nCSV-1,{product / 'fifo.jpg'}\nCSV-1,{product / 'loop.jpg'}\n")
    with time_limit(120), Catalog.open(tiny_catalog) as shop:
        report = shop.add(tmp_path / "tree")
        skipped = {Path(s.source).name: s.reason for s in report.skipped}
        assert skipped == {"fifo.jpg": "not-a-file", "loop.jpg": "not-a-file", "linked-folder": "not-a-file"}
        assert report.added == 1 and report.duplicates == 1  # a.jpg and its copy sub/b.jpg
        report = shop.add(table)
        assert [(s.reason, Path(s.source).name) for s in report.skipped] == [
            ("not-a-file", "fifo.jpg"), ("not-a-file", "loop.jpg")
        ]


@pytest.mark.parametrize("name, match", [("loop", "cannot open"), ("nul\0.csv", "not a usable path")])
def test_unusable_source_paths_are_ingest_errors(tmp_path, name, match):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(IngestError, match=match):
        list(read_source(tmp_path / name))


def test_a_table_that_is_a_fifo_is_refused_unopened(tmp_path):
    os.mkfifo(tmp_path / "feed.csv")
    with pytest.raises(IngestError, match="named pipe"), time_limit(5):
        list(read_source(tmp_path / "feed.csv"))


# --- strict tables: malformed rows are errors with their line number --------------------------


def _read(tmp_path: Path, name: str, content: str | bytes, **kwargs) -> list:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return list(read_source(path, **kwargs))


@pytest.mark.parametrize(
    "content, match",
    [
        # issue #12: the quote swallowed the rest of the file into one product id
        ('product_id,image\nR1,a.jpg\n"R3,files/cmyk.jpg\nR4,b.jpg\n', r"p\.csv:3: unterminated quoted value"),
        ('product_id,image\nR1,a.jpg\n"R2"x,b.jpg\n', r"p\.csv:3: malformed CSV"),
        ("product_id,image,title\nR1,a.jpg,Milk, 1 litre\n", r"p\.csv:2: 4 values but the header has 3"),
        ('product_id,image,title\nR1,a.jpg,"two\nlines"\nR2,b.jpg,x,y\n', r"p\.csv:4: 4 values"),  # after a 2-line row
        ("product_id,image\nR1,a.jpg\nR2,b\x00.jpg\n", r"p\.csv:3: a NUL character"),
        ("product_id,image\nR1,caf\xe9.jpg\n".encode("latin-1"), r"not UTF-8 text"),
    ],
)
def test_malformed_csv_rows_name_their_line(tmp_path, content, match):
    with pytest.raises(IngestError, match=match):
        _read(tmp_path, "p.csv", content)


def test_quoted_values_may_span_lines(tmp_path):
    items = _read(tmp_path, "p.csv", 'product_id,image,description\nR1,a.jpg,"two\nlines, one value"\nR2,b.jpg,\n')
    assert [(i.product.id, i.product.description) for i in items] == [("R1", "two\nlines, one value"), ("R2", None)]


def test_short_csv_rows_leave_the_missing_values_empty(tmp_path):
    [item] = _read(tmp_path, "p.csv", "product_id,title,image\nR1,Oat Milk\n")
    assert item.product.title == "Oat Milk" and item.image is None and not item.product_only


@pytest.mark.parametrize(
    "row, match",
    [
        ({"product_id": {"a": 1}, "image": "a.jpg"}, r":2: product_id must be a single value, not a JSON object"),
        ({"product_id": ["A"], "image": "a.jpg"}, r":2: product_id must be a single value, not a JSON list"),
        ({"product_id": "A", "title": ["x"], "image": "a.jpg"}, r":2: title must be a single value"),
        ({"product_id": "A", "category": {"x": 1}, "image": "a.jpg"}, r":2: category must be a single value"),
        ({"product_id": True, "image": "a.jpg"}, r":2: a product id must be text or a number"),
        ({"product_id": "A", "image": {"path": "a.jpg"}}, r":2: image must hold image paths"),
        ({"product_id": "A", "images": ["a.jpg", 3]}, r":2: images must hold image paths"),
        ({"product_id": "A", "images": ["a.jpg", " "]}, r":2: images must hold image paths"),
        ({"product_id": "A", "image": "a\u0000.jpg"}, r":2: image must hold image paths"),
    ],
)
def test_jsonl_fields_of_the_wrong_shape_name_their_line(tmp_path, row, match):
    content = json.dumps({"product_id": "OK", "image": "ok.jpg"}) + "\n" + json.dumps(row) + "\n"
    with pytest.raises(IngestError, match=match):
        _read(tmp_path, "p.jsonl", content)


def test_jsonl_integer_over_the_digit_limit_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match=r"p\.jsonl:1: invalid JSON"):
        _read(tmp_path, "p.jsonl", '{"product_id": "A", "image": "a.jpg", "n": ' + "1" * 5000 + "}\n")


def test_a_byte_order_mark_is_not_data(tmp_path):
    line = json.dumps({"product_id": "A", "image": "a.jpg"}) + "\n"
    assert [i.product.id for i in _read(tmp_path, "p.jsonl", b"\xef\xbb\xbf" + line.encode())] == ["A"]
    assert [i.product.id for i in _read(tmp_path, "p.csv", b"\xef\xbb\xbfproduct_id,image\nB,b.jpg\n")] == ["B"]


def test_number_ids_and_list_attributes_are_fine(tmp_path):
    [item] = _read(tmp_path, "p.jsonl", json.dumps({"product_id": 1234, "image": "a.jpg", "tags": ["red"]}) + "\n")
    assert item.product.id == "1234" and item.product.attributes == {"tags": ["red"]}


# --- a table with no image column ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, hint",
    [
        ("p.csv", "id,img\nR1,a.jpg\n", "did you mean 'image' for 'img'?"),  # issue #14: it "succeeded"
        ("p.csv", "product_id,title,price\nR1,Milk,2\n", "found price, product_id, title"),
        ("p.jsonl", json.dumps({"product_id": "R1", "picture": "a.jpg"}) + "\n", "found picture, product_id"),
    ],
)
def test_a_table_without_an_image_column_names_the_expected_columns(tmp_path, name, content, hint):
    with pytest.raises(IngestError) as info:
        _read(tmp_path, name, content)
    message = str(info.value)
    assert "no image column: expected product_id (or id, sku) and image" in message and hint in message


def test_a_products_only_table_updates_products_that_have_photos(tmp_path):
    content = "product_id,price\nR1,2.50\nR2,3\nR1,2.75\n"
    asked: list[list[str]] = []

    def with_photos(ids):
        asked.append(list(ids))
        return {"R1", "R2", "R9"}

    items = _read(tmp_path, "p.csv", content, products_with_images=with_photos)
    assert asked == [["R1", "R2"]]  # one question for the whole table
    assert [(i.product.id, i.image, i.product_only) for i in items] == [
        ("R1", None, True), ("R2", None, True), ("R1", None, True)
    ]
    with pytest.raises(IngestError, match=r"p\.csv:3: no image column.*product 'R2' has no photos"):
        _read(tmp_path, "p.csv", content, products_with_images=lambda ids: {"R1"})


def test_rows_with_an_empty_image_cell_are_not_products_only(tmp_path):
    items = _read(tmp_path, "p.csv", "product_id,image\nR1,\n")
    assert [(i.image, i.product_only) for i in items] == [(None, False)]
