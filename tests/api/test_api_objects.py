"""POST /detect and POST /search with objects=true on a real server over the tiny-network catalogue
(the real shipped detector): the answer's shape, and that plain /search is unchanged."""

from __future__ import annotations

import pytest

from objects_support import check_object, tiny_shelf

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    return tiny_shelf(tmp_path_factory.mktemp("shelf"))


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
