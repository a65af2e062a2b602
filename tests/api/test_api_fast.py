"""The REST API on the fast tier: a real uvicorn server over the tiny-network catalogue."""

from __future__ import annotations

import pytest

API_KEY = "fast-key"

pytestmark = pytest.mark.fast


@pytest.fixture
def server(fast_catalog, serve_app):
    with serve_app(fast_catalog, api_key=API_KEY) as live:
        yield live


def test_search_recognize_and_upload(server, fast_queries):
    with server.client(API_KEY) as client:
        photo = fast_queries["purple-orange"].read_bytes()
        found = client.post("/search", files={"image": ("q.jpg", photo, "image/jpeg")}, data={"k": "2"}).json()
        assert found["results"][0]["id"] == "purple-orange" and found["facets"]["category"] == {"Fruit": 1, "Milk": 1}
        boxed = client.post("/search", files={"image": ("q.jpg", photo, "image/jpeg")},
                            data={"k": "1", "box": "0,0,1,1", "where": "category = 'Milk'"}).json()
        assert [r["id"] for r in boxed["results"]] == ["red-blue"]  # the filter, then the nearest
        known = client.post("/recognize", files={"image": ("q.jpg", photo, "image/jpeg")}).json()
        assert known["candidates"][0]["id"] == "purple-orange"
        assert client.post("/products", json={"id": "fresh", "title": "Fresh"}).status_code == 201
        added = client.post("/products/fresh/images", files={"image": ("u.jpg", photo, "image/jpeg")})
        assert added.status_code == 201 and added.json()["duplicate"] is False
        again = client.post("/products/fresh/images", files={"image": ("u.jpg", photo, "image/jpeg")})
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert again.json()["image_id"] == added.json()["image_id"]  # the image it has already, not null
        thumb = client.get(f"/images/{added.json()['image_id']}/thumb", params={"size": 128})
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        detail = client.get("/products/fresh").json()
        assert [im["id"] for im in detail["images"]] == [added.json()["image_id"]]
        refused = client.post("/products/fresh/images", files={"image": ("t.jpg", b"not an image", "image/jpeg")})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "not-an-image"
        health = client.get("/healthz").json()
        assert health["images"] == 13 and health["model"] == "tiny-test/imagenet/fp32"
        assert "productlens_catalog_images 13" in client.get("/metrics").text
