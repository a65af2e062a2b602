"""Products and images endpoints: reads, writes, auth, errors, path safety."""

from __future__ import annotations

import uuid

import pytest

from support import TINY_PRODUCTS


def new_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def test_list_and_get(anon):
    r = anon.get("/products")
    assert r.status_code == 200
    body = r.json()
    ids = [p["id"] for p in body["products"]]
    banana = next(p for p in body["products"] if p["id"] == "Banana")
    assert anon.get(banana["thumb_url"]).headers["content-type"] == "image/jpeg"
    assert set(TINY_PRODUCTS) <= set(ids) and body["total"] >= 3
    page = anon.get("/products", params={"limit": 1, "offset": 1}).json()
    assert page["products"][0]["id"] == ids[1] and page["limit"] == 1
    only = anon.get("/products", params={"where": "id = 'Banana'"}).json()
    assert [p["id"] for p in only["products"]] == ["Banana"] and only["total"] == 1
    detail = anon.get("/products/Banana").json()
    assert detail["id"] == "Banana" and len(detail["images"]) == detail["image_count"] == 3
    assert all(im["thumb_url"] == f"/images/{im['id']}/thumb?size=256" for im in detail["images"])
    assert "source" not in detail["images"][0]  # server paths are not exposed


def test_not_found_and_bad_filter(anon):
    r = anon.get("/products/no-such-thing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "product-not-found"
    assert anon.get("/products/no-such-thing/similar").status_code == 404
    r = anon.get("/products", params={"where": "((("})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad-filter"
    assert anon.get("/images/999999").json()["error"]["code"] == "image-not-found"
    assert anon.get("/nowhere").json()["error"]["code"] == "not-found"


def test_similar(anon):
    r = anon.get("/products/Granny-Smith/similar", params={"k": 2})
    assert r.status_code == 200
    ids = [h["id"] for h in r.json()["results"]]
    assert len(ids) == 2 and "Granny-Smith" not in ids


def test_thumbnails_by_image_id(anon):
    image = anon.get("/products/Banana").json()["images"][0]
    r = anon.get(image["thumb_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    small = anon.get(f"/images/{image['id']}/thumb", params={"size": 128})
    assert small.status_code == 200 and len(small.content) < len(r.content)
    assert anon.get(f"/images/{image['id']}/thumb", params={"size": 1000}).status_code == 422
    assert anon.get(f"/images/{image['id']}").json()["product_id"] == "Banana"


@pytest.mark.parametrize("path", ["/images/..%2F..%2Fcatalog.db/thumb", "/images/-1/thumb", "/static/..%2F..%2Fapp.py",
                                  "/static/../../catalog.db", "/images/1;cat%20/etc/passwd/thumb"])
def test_no_path_traversal(anon, path):
    r = anon.get(path)
    assert r.status_code in (404, 422), (path, r.status_code)
    assert b"SQLite" not in r.content and b"import" not in r.content


def test_writes_need_the_key(anon, live_server):
    r = anon.post("/products", json={"id": new_id(), "title": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    with live_server.client(key="wrong") as c:
        assert c.delete("/products/Banana").status_code == 401
        assert c.delete("/images/1").status_code == 401
    assert anon.get("/products/Banana").status_code == 200  # untouched


def test_product_lifecycle(client, anon, query_photos, bad_files):
    pid = new_id()
    r = client.post("/products", json={"id": pid, "title": "Test Banana", "category": "Test-Fruit",
                                       "attributes": {"brand": "Acme", "price": 1.5}})
    assert r.status_code == 201, r.text
    assert r.json()["images"] == []
    assert client.post("/products", json={"id": pid, "title": "again"}).status_code == 409
    photo = query_photos["Banana"].read_bytes()
    r = client.post(f"/products/{pid}/images", files={"image": ("a.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    image_id = r.json()["image_id"]
    assert image_id > 0 and r.json()["duplicate"] is False
    again = client.post(f"/products/{pid}/images", files={"image": ("b.jpg", photo, "image/jpeg")})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    bad = client.post(f"/products/{pid}/images", files={"image": ("x.jpg", bad_files["notes.jpg"].read_bytes())})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "not-an-image"
    # the uploaded original is kept in the catalogue, content-addressed, and has a thumbnail
    assert anon.get(f"/images/{image_id}/thumb").status_code == 200
    # searchable at once, with its facets
    r = anon.post("/search", files={"image": ("q.jpg", photo)}, data={"k": "2", "where": "category = 'Test-Fruit'"})
    body = r.json()
    assert [h["id"] for h in body["results"]] == [pid]
    assert body["results"][0]["score"] > 0.99 and body["facets"] == {"category": {"Test-Fruit": 1}, "brand": {"Acme": 1}}
    r = client.put(f"/products/{pid}", json={"title": "Renamed", "attributes": {"price": None}})
    assert r.status_code == 200 and r.json()["title"] == "Renamed" and r.json()["attributes"] == {"brand": "Acme"}
    assert client.put(f"/products/{pid}", json={"title": None}).json()["title"] == "Renamed"
    assert client.put("/products/no-such", json={"title": "x"}).status_code == 404
    assert client.delete(f"/images/{image_id}").status_code == 200
    assert client.delete(f"/images/{image_id}").status_code == 404
    r = anon.post("/search", files={"image": ("q.jpg", photo)}, data={"where": "category = 'Test-Fruit'"})
    assert r.json()["results"] == []
    r = client.delete(f"/products/{pid}")
    assert r.status_code == 200 and r.json()["deleted"] == pid
    assert anon.get(f"/products/{pid}").status_code == 404
    assert client.delete(f"/products/{pid}").status_code == 404


def test_media_is_content_addressed(client, live_server, query_photos):
    import hashlib

    pid = new_id()
    client.post("/products", json={"id": pid, "title": "media"})
    photo = query_photos["Granny-Smith"].read_bytes()
    assert client.post(f"/products/{pid}/images", files={"image": ("../../evil.jpg", photo)}).status_code == 201
    sha = hashlib.sha256(photo).hexdigest()
    stored = live_server.catalog_path / "media" / sha[:2] / f"{sha}.jpg"
    assert stored.read_bytes() == photo
    assert not (live_server.catalog_path.parent / "evil.jpg").exists()
    client.delete(f"/products/{pid}")


@pytest.mark.parametrize("body", [{"id": "../etc", "title": "x"}, {"id": "a", "title": ""}, {"id": "a"},
                                  {"id": "a", "title": "x", "attributes": {"k": [1, 2]}}, {"id": "a", "title": "x", "z": 1}])
def test_invalid_products_rejected(client, body):
    r = client.post("/products", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid-request"


def test_read_key_and_read_only(api_catalog, serve_app):
    with serve_app(api_catalog, read_key="reader") as server:
        with server.client(None) as c:
            assert c.get("/products").status_code == 401
            assert c.get("/healthz").status_code == 200  # liveness stays open
        with server.client("reader") as c:
            assert c.get("/products").status_code == 200
            r = c.post("/products", json={"id": new_id(), "title": "x"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "read-only"
