"""POST /detect and POST /search with objects=true on a real server over the tiny-network catalogue
(the real shipped detector): the answer's shape, and that plain /search is unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.detection.composites import compose
from tiny import PRODUCTS, product_photo

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    pictures = [product_photo(p, 900 + n, size=(90, 120)) for n, p in enumerate(PRODUCTS)]
    made = compose(pictures, np.random.default_rng(3), size=(360, 270), max_products=4)
    path = tmp_path_factory.mktemp("shelf") / "shelf.jpg"
    made.image.save(path, quality=95)
    return path


def check_object(obj: dict, width: int, height: int, k: int) -> None:
    x0, y0, x1, y1 = obj["box"]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height and 0 <= obj["score"] <= 1
    assert 1 <= len(obj["results"]) <= k and obj["results"][0]["rank"] == 1 and obj["results"][0]["id"] in PRODUCTS
    assert {"known", "confidence", "threshold", "candidates"} <= set(obj["recognition"])


def test_api_detect_and_search_objects(fast_catalog, serve_app, shelf, fast_queries):
    with serve_app(fast_catalog, api_key="k") as server, server.client("k") as client:
        photo = shelf.read_bytes()
        boxes = client.post("/detect", files={"image": ("s.jpg", photo, "image/jpeg")}, data={"min_score": "0"}).json()
        assert boxes["objects"] and set(boxes["objects"][0]) == {"box", "score"}
        found = client.post("/search", files={"image": ("s.jpg", photo, "image/jpeg")},
                            data={"objects": "true", "k": "2"}).json()
        for obj in found["objects"]:
            check_object(obj, 360, 270, 2)
            assert obj["results"][0]["thumb_url"].startswith("/images/")
        plain = client.post("/search", files={"image": ("q.jpg", fast_queries["red-blue"].read_bytes(), "image/jpeg")},
                            data={"k": "1"}).json()
        assert plain["results"][0]["id"] == "red-blue" and "objects" not in plain
        bad = client.post("/search", data={"objects": "true", "text": "milk"})
        assert bad.status_code == 422
