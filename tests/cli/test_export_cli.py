"""`productlens export DIR` writes a feed plus image files that `add` turns back into the same catalogue."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from productlens import Catalog
from productlens.cli import cli

pytestmark = pytest.mark.fast


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def contents(shop) -> tuple[list[tuple], dict[str, set[str]]]:
    """(id, title, category, description, attributes) per product, and each product's image hashes."""
    with Catalog.open(shop) as catalog:
        products = [(p.id, p.title, p.category, p.description, p.attributes) for p in catalog.list_products()]
        hashes: dict[str, set[str]] = {}
        for image in catalog.get_images():
            hashes.setdefault(image.product_id, set()).add(image.sha256)
    return products, hashes


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_add_gives_the_same_catalogue(fast_catalog, tiny_model, tmp_path, fmt):
    run("--catalog", fast_catalog, "update", "red-blue", "--title", "Red, blue \"stripes\"", "--description",
        "two lines\nof text", "--set", "brand=Arla", "--set", "price=2.49")
    run("--catalog", fast_catalog, "update", "black-white", "--set", "tags=zebra")
    exported = run("--catalog", fast_catalog, "export", tmp_path / "feed", "--format", fmt, "--json")
    assert exported.exit_code == 0, exported.output
    report = json.loads(exported.stdout)
    assert report == {"feed": str(tmp_path / "feed" / f"products.{fmt}"), "products": 4, "images": 12, "missing": []}
    assert len(list((tmp_path / "feed" / "images").rglob("*.jpg"))) == 12

    copy = tmp_path / "copy"
    added = run("--catalog", copy, "add", report["feed"], "--model", tiny_model, "--index", "memory", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["added"] == 12
    assert contents(copy) == contents(fast_catalog)


def test_jsonl_keeps_value_types_and_products_without_photos(fast_catalog, tiny_model, tmp_path):
    with Catalog.open(fast_catalog) as catalog:
        catalog.update_product("red-blue", attributes={"price": 2.49, "tags": ["milk", "striped"], "organic": True})
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"product_id": "gift-card", "title": "Gift card", "image": None}) + "\n")
    assert run("--catalog", fast_catalog, "add", feed).exit_code == 0
    filtered = json.loads(run("--catalog", fast_catalog, "export", tmp_path / "out", "--format", "jsonl",
                              "--where", "category = 'Milk' or id = 'gift-card'", "--json").stdout)
    assert filtered["products"] == 3 and filtered["images"] == 6
    copy = tmp_path / "copy"
    assert run("--catalog", copy, "add", filtered["feed"], "--model", tiny_model, "--index", "memory").exit_code == 0
    products, hashes = contents(copy)
    original_products, original_hashes = contents(fast_catalog)
    assert products == [p for p in original_products if p[0] in {"gift-card", "green-yellow", "red-blue"}]
    assert {p[0]: p[4] for p in products}["red-blue"] == {"price": 2.49, "tags": ["milk", "striped"], "organic": True}
    assert hashes == {pid: original_hashes[pid] for pid in ("green-yellow", "red-blue")}


def test_export_never_overwrites_and_lists_lost_images(fast_catalog, tmp_path, fast_photos):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "products.csv").write_text("mine\n")
    refused = run("--catalog", fast_catalog, "export", taken)
    assert refused.exit_code == 1 and "is not an empty folder" in refused.output
    assert (taken / "products.csv").read_text() == "mine\n"

    moved = tmp_path / "moved"
    photo = next((fast_photos / "red-blue").iterdir())
    photo.rename(moved)  # the catalogue recorded this path; the bytes are gone from it
    try:
        result = run("--catalog", fast_catalog, "export", tmp_path / "out")
    finally:
        moved.rename(photo)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"exported 4 product(s) and 11 image(s) to {tmp_path / 'out' / 'products.csv'}",
                                          f"  missing: {photo} (its file is gone or changed)"]
