"""The engine end to end on a tiny real catalogue: add, search, filter, recognise, remove."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from productlens import (
    Catalog,
    CatalogExistsError,
    CatalogNotFoundError,
    FilterSyntaxError,
    ModelMismatchError,
    ProductLensError,
    ProductNotFoundError,
    UnknownModelError,
)
from productlens.catalog.ingest import IngestItem
from productlens.catalog.store import Product
from support import TINY_PRODUCTS, split_photos


def test_tiny_catalogue_contents(tiny_catalog):
    with Catalog.open(tiny_catalog) as shop:
        info = shop.info()
        assert info["products"] == 3 and info["images"] == 9 and info["indexed_vectors"] == 9
        assert info["model_key"] == "efficientnet-lite0/imagenet/fp32" and info["dim"] == 1280
        assert {p.id for p in shop.list_products()} == {"Granny-Smith", "Arla-Standard-Milk", "Banana"}
        assert all(p.image_count == 3 for p in shop.list_products())


def test_search_finds_the_right_product_for_held_out_photos(tiny_catalog, query_photos):
    with Catalog.open(tiny_catalog) as shop:
        for pid, photo in query_photos.items():
            hits = shop.search(photo, k=3)
            assert [h.rank for h in hits] == [1, 2, 3]
            assert hits[0].product.id == pid, (pid, [(h.product.id, h.score) for h in hits])
            assert hits[0].score > hits[1].score >= hits[2].score
            assert shop.store.image_products([hits[0].image_id])[hits[0].image_id] == pid


def test_search_accepts_bytes_and_a_box(tiny_catalog, query_photos):
    photo = query_photos["Banana"]
    with Catalog.open(tiny_catalog) as shop:
        by_path = shop.search(photo, k=1)[0]
        by_bytes = shop.search(photo.read_bytes(), k=1)[0]
        assert by_path.product.id == by_bytes.product.id and by_path.score == pytest.approx(by_bytes.score, abs=1e-5)
        whole = shop.searcher.embed_query(photo)
        boxed = shop.searcher.embed_query(photo, box=(0.0, 0.0, 0.5, 0.5))
        assert float(whole @ boxed) < 0.99  # the crop really changed the query


def test_filters_restrict_results_exactly(tiny_catalog, query_photos):
    with Catalog.open(tiny_catalog) as shop:
        shop.update_product("Banana", category="Fruit", attributes={"price": "0.25"})
        shop.update_product("Granny-Smith", category="Fruit", attributes={"price": "0.60"})
        shop.update_product("Arla-Standard-Milk", category="Milk", attributes={"price": "1.10"})
        hits = shop.search(query_photos["Arla-Standard-Milk"], k=10, where="category = 'Fruit'")
        assert {h.product.id for h in hits} == {"Banana", "Granny-Smith"}
        hits = shop.search(query_photos["Banana"], k=10, where="price >= 0.5")
        assert {h.product.id for h in hits} == {"Granny-Smith", "Arla-Standard-Milk"}
        assert shop.search(query_photos["Banana"], k=10, where="category = 'Shoes'") == []
        assert [p.id for p in shop.list_products("price < 1")] == ["Banana", "Granny-Smith"]
        with pytest.raises(FilterSyntaxError):
            shop.search(query_photos["Banana"], where="category = ")


def test_recognize_known_and_unknown(tiny_catalog, query_photos):
    with Catalog.open(tiny_catalog) as shop:
        with pytest.raises(ProductLensError, match="taken apart"):  # three consecutive frames per product
            shop.calibrate()
        held_out = [IngestItem(Product(pid, pid), photo) for pid, folder in TINY_PRODUCTS.items()
                    for photo in split_photos("val", folder, 3)]
        cal = shop.calibrate(photos=held_out)
        assert cal.known_queries == 9 and cal.unknown_queries == 9
        assert 0.0 < cal.threshold < 1.0
        record = shop.store.get_calibration(shop.versions.active.key, "recognition")
        assert record.value["calibration"]["threshold"] == cal.threshold and record.fitted_on == "9 labelled photos"
        known = shop.recognize(query_photos["Granny-Smith"])
        assert known.candidates[0].product.id == "Granny-Smith"
        assert 0.0 < known.confidence < 1.0 and known.known == (known.confidence >= cal.threshold)
        shop.remove(["Granny-Smith"])
        # A photo of a product the catalogue no longer has scores lower than when it had it.
        gone = shop.recognize(query_photos["Granny-Smith"])
        assert gone.score < known.score
        assert gone.candidates[0].product.id != "Granny-Smith"


def test_similar_excludes_the_product_itself(tiny_catalog):
    with Catalog.open(tiny_catalog) as shop:
        hits = shop.similar("Granny-Smith", k=5)
        assert [h.product.id for h in hits] and "Granny-Smith" not in [h.product.id for h in hits]
        with pytest.raises(ProductNotFoundError):
            shop.similar("nope")


def test_re_adding_the_same_photos_changes_nothing(tiny_catalog, tiny_photos_dir):
    with Catalog.open(tiny_catalog) as shop:
        generation = shop.store.generation
        report = shop.add(tiny_photos_dir)
        assert (report.added, report.duplicates, report.skipped) == (0, 9, [])
        assert shop.info()["images"] == 9
        assert shop.store.generation - generation <= 1  # at most the no-op product upsert


def test_same_photo_under_another_product_reuses_its_embedding(tiny_catalog, tiny_photos_dir):
    photo = next((tiny_photos_dir / "Banana").iterdir())
    with Catalog.open(tiny_catalog) as shop:
        report = shop.add(photo, product="BANANA-DUPLICATE-SKU")
        assert (report.added, report.reused_embeddings, report.products_created) == (1, 1, 1)
        hits = shop.search(photo, k=2)
        assert {h.product.id for h in hits} == {"Banana", "BANANA-DUPLICATE-SKU"}
        assert hits[0].score == pytest.approx(1.0, abs=1e-4) and hits[1].score == pytest.approx(1.0, abs=1e-4)


def test_bad_files_are_reported_and_skipped_while_the_batch_goes_on(tiny_catalog, bad_files, odd_files, tmp_path):
    folder = tmp_path / "messy" / "MESSY-1"
    folder.mkdir(parents=True)
    for path in [*bad_files.values(), *odd_files.values()]:
        shutil.copy(path, folder / path.name)
    (folder / "README.txt").write_text("not a photo")
    with Catalog.open(tiny_catalog) as shop:
        report = shop.add(folder.parent)
        skipped = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
        assert skipped == {
            "empty.jpg": "empty-file",
            "notes.jpg": "not-an-image",
            "README.txt": "not-an-image",
            "truncated.jpg": "corrupt",
            "garbage.png": skipped.get("garbage.png"),
            "bomb.png": "too-large",
        }
        assert skipped["garbage.png"] in {"corrupt", "not-an-image"}
        assert report.added == len(odd_files)
        assert shop.info()["images"] == 9 + len(odd_files)
        notes = [im.notes for im in shop.store.get_images("MESSY-1")]
        assert any(n and "animated" in n for n in notes)


def test_remove_and_remove_image_update_the_index(tiny_catalog, query_photos):
    with Catalog.open(tiny_catalog) as shop:
        assert shop.remove(["Banana"]) == 3
        assert "Banana" not in [h.product.id for h in shop.search(query_photos["Banana"], k=5)]
        image = shop.store.get_images("Granny-Smith")[0]
        assert shop.remove_image(image.id) and not shop.remove_image(image.id)
        assert shop.info()["indexed_vectors"] == 5
        with pytest.raises(ProductNotFoundError):
            shop.remove(["Banana"])
    with Catalog.open(tiny_catalog) as reopened:  # the saved index reflects the removals
        assert reopened.info()["indexed_vectors"] == 5


def test_stale_or_missing_index_is_rebuilt_from_sqlite(tiny_catalog, query_photos):
    for f in (tiny_catalog / "index").iterdir():
        f.unlink()
    with Catalog.open(tiny_catalog) as shop:
        assert shop.info()["indexed_vectors"] == 9
        assert shop.search(query_photos["Banana"], k=1)[0].product.id == "Banana"
        shop.remove(["Granny-Smith"])  # a write saves the index again
    index_file = next((tiny_catalog / "index").glob("*.faiss-flat"))
    index_file.write_bytes(b"damaged")
    with Catalog.open(tiny_catalog) as shop:
        assert shop.info()["indexed_vectors"] == 6
        assert shop.search(query_photos["Banana"], k=1)[0].product.id == "Banana"


def test_a_second_process_view_follows_writes(tiny_catalog, query_photos, tiny_photos_dir):
    reader = Catalog.open(tiny_catalog)
    writer = Catalog.open(tiny_catalog)
    try:
        assert reader.search(query_photos["Banana"], k=1)[0].product.id == "Banana"
        writer.remove(["Banana"])
        assert "Banana" not in [h.product.id for h in reader.search(query_photos["Banana"], k=3)]
    finally:
        reader.close()
        writer.close()


def test_catalogue_errors(tmp_path, tiny_catalog):
    with pytest.raises(CatalogNotFoundError):
        Catalog.open(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(CatalogExistsError):
        Catalog.create(tiny_catalog)
    with pytest.raises(ModelMismatchError):
        Catalog.open(tiny_catalog, model="efficientnet-lite1")
    with pytest.raises(UnknownModelError):
        Catalog.create(tmp_path / "new", model="resnet-9000")


def test_products_without_images_and_title_handling(tmp_path):
    with Catalog.create(tmp_path / "shop") as shop:
        shop.ingest.add_items([IngestItem(Product("SKU-1", "Oat Milk 1 l", "Milk", None, {"brand": "Oatly"}), None)])
        shop.ingest.add_items([IngestItem(Product("SKU-1", "SKU 1"), None, title_derived=True)])
        product = shop.get_product("SKU-1")
        assert product.title == "Oat Milk 1 l" and product.attributes == {"brand": "Oatly"}
        assert shop.searcher.vector(np.ones(1280, np.float32), k=3) == []


def test_int8_catalogue_calibrates_on_its_own_images(tmp_path, tiny_photos_dir, query_photos):
    with Catalog.open(tmp_path / "shop8", create=True, precision="int8") as shop:
        report = shop.add(tiny_photos_dir)
        assert report.added == 9
        assert shop.info()["model_key"].endswith("/int8")
        assert list((tmp_path / "shop8" / "models").glob("*int8*.onnx"))
        assert shop.search(query_photos["Arla-Standard-Milk"], k=1)[0].product.id == "Arla-Standard-Milk"


def test_calibrate_on_held_out_photos(tiny_catalog, query_photos):
    from productlens.catalog.ingest import IngestItem

    photos = [IngestItem(Product(pid, pid), path) for pid, path in query_photos.items()]
    with Catalog.open(tiny_catalog) as shop:
        cal = shop.calibrate(photos=photos)
        assert cal.known_queries == 3 and cal.top1_accuracy == 1.0
        assert shop.recognition.calibration.threshold == cal.threshold
        assert shop.recognize(query_photos["Banana"]).threshold == cal.threshold


def test_index_of_another_dimension_is_rebuilt_from_the_store(tiny_catalog, query_photos):
    """An index file is a cache: one whose metadata says another width is rebuilt and saved, and
    the catalogue (the truth) is not touched."""
    meta_file = next((tiny_catalog / "index").glob("*.json"))
    meta = json.loads(meta_file.read_text())
    meta["dim"] = 512
    meta_file.write_text(json.dumps(meta))
    before = (tiny_catalog / "catalog.db").read_bytes()
    with Catalog.open(tiny_catalog) as shop:
        assert shop.search(query_photos["Banana"])[0].product.id == "Banana"
    assert (tiny_catalog / "catalog.db").read_bytes() == before
    assert json.loads(meta_file.read_text())["dim"] == 1280
