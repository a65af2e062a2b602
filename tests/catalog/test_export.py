"""The feed writer: refuses what would not read back the same, and keeps product ids out of paths."""

from __future__ import annotations

import pytest

from productlens.catalog.export import csv_cell, write_feed
from productlens.catalog.media import MediaStore
from productlens.catalog.store import ImageRecord, Product
from productlens.errors import ExportError
from productlens.images import content_hash

pytestmark = pytest.mark.fast


def record(product_id: str, source, sha: str) -> ImageRecord:
    return ImageRecord(1, product_id, sha, str(source), 8, 8, "PNG", "ok", None, "2026-01-01")


@pytest.mark.parametrize("name, message", [("image", "has the name of a feed column"),
                                           ("sku", "has the name of a feed column"),
                                           ("Brand", "would read back as 'brand'")])
def test_attributes_that_would_not_read_back_are_refused(tmp_path, name, message):
    product = Product("A", "Apple", attributes={name: "x"})
    with pytest.raises(ExportError, match=message):
        write_feed(tmp_path / "out", [product], [], MediaStore(tmp_path / "shop"))
    assert not (tmp_path / "out").exists()


def test_product_ids_never_leave_the_images_folder(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG not really, but hashed all the same")
    products = [Product("../../escape", "Escape"), Product("a/b", "Slash")]
    images = [record(p.id, photo, content_hash(photo.read_bytes())) for p in products]
    report = write_feed(tmp_path / "out", products, images, MediaStore(tmp_path / "shop"))
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert report.images == 2 and all(path.startswith("images/") and ".." not in path for path in written)
    assert [p.parent.name for p in sorted((tmp_path / "out" / "images").glob("*/*.png"))] == ["_escape", "a_b"]


def test_csv_cells():
    assert [csv_cell(v) for v in (None, True, 2.5, ["a", "b"], {"k": 1}, "x, y")] == [
        "", "true", "2.5", '["a", "b"]', '{"k": 1}', "x, y"]
