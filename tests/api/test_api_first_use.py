"""What a new user (or a hostile one) tripped on, against a real server over the tiny-network catalogue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

API_KEY = "first-use-key"

pytestmark = pytest.mark.fast


@pytest.fixture
def server(fast_catalog, serve_app):
    with serve_app(fast_catalog, api_key=API_KEY) as live:
        yield live


def test_concurrent_first_thumbnail_requests_all_get_the_whole_jpeg(server):
    """40 first requests for thumbnails (4 per image) at once: each a whole JPEG, none a 500."""
    with server.client(API_KEY) as client:
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
    leftovers = [p for p in (server.catalog_path / "media").rglob("*") if ".tmp" in p.name]
    assert leftovers == []
