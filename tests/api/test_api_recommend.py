"""GET /recommend and POST /interactions on a real uvicorn server (fast tier)."""

from __future__ import annotations

import pytest

from productlens import Catalog

API_KEY = "rec-key"

pytestmark = pytest.mark.fast

EVENTS = [{"user_id": f"u{u}", "product_id": p, "event": "purchase", "timestamp": 1_600_000_000 + 10 * u + n}
          for u in range(12) for n, p in enumerate(
              ["red-blue", "green-yellow"] if u % 2 == 0 else ["black-white", "purple-orange"])]


def test_interactions_need_the_write_key_and_report_what_they_did(keyed_server):
    with keyed_server.client(None) as anon:
        assert anon.post("/interactions", json={"events": EVENTS}).status_code == 401
    with keyed_server.client(API_KEY) as client:
        bad = [{"user_id": "x", "product_id": "red-blue", "weight": -1}]
        added = client.post("/interactions", json={"events": EVENTS + bad}).json()
        assert (added["added"], added["skipped"]) == (len(EVENTS), 1) and "negative" in added["problems"][0]
        again = client.post("/interactions", json={"events": EVENTS}).json()
        assert (again["added"], again["already_there"]) == (0, len(EVENTS))


def test_recommend_for_a_basket_a_product_and_a_new_user(keyed_server):
    with keyed_server.client(API_KEY) as client:
        client.post("/interactions", json={"events": EVENTS})
        with Catalog.open(keyed_server.catalog_path) as other:  # another process fits; the server follows
            assert other.recommendations.fit(model="item-knn", budget_s=30)["activated"]
        basket = client.get("/recommend", params={"items": "red-blue", "k": 1}).json()
        assert [r["id"] for r in basket["results"]] == ["green-yellow"] and basket["items"] == ["red-blue"]
        often = client.get("/recommend", params={"product": "black-white", "k": 1}).json()
        assert often["results"][0]["id"] == "purple-orange" and often["results"][0]["thumb_url"].startswith("/images/")
        fresh = client.get("/recommend", params={"user": "nobody", "k": 2, "where": "category = 'Milk'"}).json()
        assert {r["id"] for r in fresh["results"]} == {"red-blue", "green-yellow"}
        both = client.get("/recommend", params={"user": "u1", "product": "red-blue"})
        assert both.status_code == 400
        missing = client.get("/recommend", params={"product": "nope"})
        assert missing.status_code == 404
