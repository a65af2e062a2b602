"""What a new user (or a hostile one) tripped on, against a real server over the tiny-network catalogue."""

from __future__ import annotations

import io
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from PIL import Image

from productlens.cli import cli

API_KEY = "first-use-key"

pytestmark = pytest.mark.fast


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_concurrent_first_thumbnail_requests_all_get_the_whole_jpeg(keyed_server):
    """40 first requests for thumbnails (4 per image) at once: each a whole JPEG, none a 500."""
    with keyed_server.client(API_KEY) as client:
        image_ids = [im["id"] for p in client.get("/products", params={"limit": 100}).json()["products"]
                     for im in client.get(f"/products/{p['id']}").json()["images"]][:10]
        assert len(image_ids) == 10

        def fetch(image_id: int):
            return client.get(f"/images/{image_id}/thumb", params={"size": 512})

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(fetch, [i for i in image_ids for _ in range(4)]))
    assert [a.status_code for a in answers] == [200] * 40
    for answer in answers:
        assert answer.content[:2] == b"\xff\xd8" and answer.content[-2:] == b"\xff\xd9"
        assert int(answer.headers["content-length"]) == len(answer.content)
    leftovers = [p for p in (keyed_server.catalog_path / "media").rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_one_id_rule_for_the_cli_the_api_and_ids_stored_before_it(fast_catalog, fast_photos, serve_app):
    photo = next(fast_photos.glob("red-blue/*.jpg"))
    refused = run_cli("--catalog", fast_catalog, "add", photo, "--product", "Mango ripe/1 kg")
    assert refused.exit_code == 1 and "product id 'Mango ripe/1 kg' is not allowed: it contains '/'" in refused.output
    assert run_cli("--catalog", fast_catalog, "add", photo, "--product", "Mango ripe 1 kg").exit_code == 0
    legacy_photo = next(fast_photos.glob("green-yellow/*.jpg"))
    assert run_cli("--catalog", fast_catalog, "add", legacy_photo, "--product", "legacy").exit_code == 0
    with sqlite3.connect(fast_catalog / "catalog.db") as db:  # an id stored before the rule
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute("UPDATE products SET id = 'Kiwi/2 pack' WHERE id = 'legacy'")
        db.execute("UPDATE images SET product_id = 'Kiwi/2 pack' WHERE product_id = 'legacy'")
    planned = run_cli("--catalog", fast_catalog, "rename", "--fix-ids", "--dry-run")
    assert planned.output == "'Kiwi/2 pack' -> 'Kiwi-2 pack' (dry run)\n"
    fixed = run_cli("--catalog", fast_catalog, "rename", "--fix-ids")
    assert fixed.exit_code == 0 and fixed.output == "'Kiwi/2 pack' -> 'Kiwi-2 pack'\n"
    with serve_app(fast_catalog, api_key=API_KEY) as server, server.client(API_KEY) as client:
        assert client.post("/products", json={"id": "Mango ripe/1 kg", "title": "x"}).status_code == 422
        assert client.post("/products", json={"id": " padded", "title": "x"}).status_code == 422
        assert client.post("/products", json={"id": "Oat milk 1 l", "title": "Oat milk"}).status_code == 201
        assert client.get("/products/Oat%20milk%201%20l").json()["title"] == "Oat milk"
        renamed = client.get("/products/Kiwi-2%20pack").json()
        assert renamed["image_count"] == 1 and len(renamed["images"]) == 1
        mango = client.get("/products/Mango%20ripe%201%20kg")
        assert mango.status_code == 200 and mango.json()["image_count"] == 1
        deleted = client.delete("/products/Mango%20ripe%201%20kg")
        assert deleted.status_code == 200 and deleted.json()["images_removed"] == 1
        assert client.get("/products/Mango%20ripe%201%20kg").status_code == 404


def test_a_filter_on_a_field_no_product_has_is_a_400_naming_the_fields(keyed_server, fast_queries):
    with keyed_server.client(API_KEY) as client:
        listed = client.get("/products", params={"where": "colour = 'red'"})
        assert listed.status_code == 400 and listed.json()["error"]["code"] == "bad-filter"
        assert listed.json()["error"]["message"] == ("no product has the field 'colour'; the fields are: "
                                                     "category, description, id, title")
        photo = fast_queries["red-blue"].read_bytes()
        found = client.post("/search", files={"image": ("q.jpg", photo, "image/jpeg")}, data={"where": "colour = 'red'"})
        assert found.status_code == 400 and "no product has the field 'colour'" in found.json()["error"]["message"]


def test_small_inconsistencies_of_the_api(keyed_server, fast_queries):
    photo = fast_queries["red-blue"].read_bytes()
    with keyed_server.client(API_KEY) as client:
        for box in ("1,2,3", "0,0,3,3"):
            bad = client.post("/search", files={"image": ("q.jpg", photo, "image/jpeg")}, data={"box": box})
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad-box", bad.text
        buf = io.BytesIO()
        Image.new("RGB", (5, 5)).save(buf, "PNG")
        small = client.post("/products/red-blue/images", files={"image": ("s.png", buf.getvalue(), "image/png")})
        assert small.status_code == 422 and small.json()["error"]["code"] == "too-small"
        image_id = client.get("/products/red-blue").json()["images"][0]["id"]
        deleted = client.delete(f"/images/{image_id}")
        assert deleted.status_code == 200 and deleted.json()["deleted"] == image_id


@pytest.mark.parametrize("attributes, said", [
    ('{"weight": NaN}', "not a number JSON can hold"), ('{"weight": Infinity}', "not a number JSON can hold"),
    ('{"note": "' + "x" * 10_001 + '"}', "over the 10,000 cap"), ('{"' + "k" * 101 + '": 1}', "1 to 100 characters")])
def test_attributes_json_cannot_hold_or_too_big_to_filter_are_refused(keyed_server, attributes, said):
    with keyed_server.client(API_KEY) as client:
        for method, path, body in (("PUT", "/products/red-blue", '{"attributes": %s}' % attributes),
                                   ("POST", "/products", '{"id": "n1", "title": "N", "attributes": %s}' % attributes)):
            answer = client.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422 and said in answer.json()["error"]["message"], answer.text
        listed = client.get("/products", params={"limit": 100})
        assert listed.status_code == 200 and "NaN" not in listed.text and "n1" not in listed.text


def test_batch_search_answers_each_photo_as_search_does(keyed_server, fast_queries):
    photos = [(p.name, p.read_bytes()) for p in fast_queries.values()] + [("notes.jpg", b"not a photo")]
    with keyed_server.client(API_KEY) as client:
        batch = client.post("/search/batch", files=[("images", (name, data, "image/jpeg")) for name, data in photos],
                            data={"k": "2"})
        assert batch.status_code == 200, batch.text
        answers = batch.json()["answers"]
        assert [a["query"] for a in answers] == [name for name, _ in photos]
        assert answers[-1]["reason"] == "not-an-image"
        for (name, data), answer in zip(photos[:-1], answers):
            alone = client.post("/search", files={"image": (name, data, "image/jpeg")}, data={"k": "2"}).json()
            assert [(r["id"], r["image_id"]) for r in answer["results"]] == [
                (r["id"], r["image_id"]) for r in alone["results"]]
