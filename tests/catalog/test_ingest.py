from __future__ import annotations

import json

import pytest

from productlens.catalog.datasets import grocery_classes, write_grocery_csv
from productlens.catalog.ingest import read_source, title_from_name
from productlens.errors import IngestError

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
