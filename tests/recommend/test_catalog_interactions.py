"""Interactions in a real catalogue (SQLite): ingest rules and idempotence, info, forgetting a
user, fitting and activating recommender versions, and Catalog.recommend's filters."""

import json
import time

import numpy as np
import pytest
from planted_interactions import GROUP_SIZE, planted_log

from productlens import Catalog, Product, ProductNotFoundError, RecommenderError
from productlens.errors import InteractionError

pytestmark = pytest.mark.fast


def planted_rows():
    log = planted_log(users=240)
    return [{"user_id": log.user_ids[u], "product_id": log.item_ids[i], "event": "purchase" if n % 3 == 0 else "view",
             "timestamp": 1_600_000_000 + n} for n, (u, i) in enumerate(zip(log.users, log.items))]


@pytest.fixture
def shop(tmp_path, tiny_model):
    catalog = Catalog.create(tmp_path / "shop", model=tiny_model, index="memory")
    for group in range(3):  # a few products known beforehand, with a category to filter on
        catalog.upsert_product(Product(id=f"p{group * GROUP_SIZE:03d}", title=f"first of {group}", category=f"g{group}"))
    yield catalog
    catalog.close()


def write_csv(path, rows):
    header = ["user_id", "product_id", "event", "weight", "timestamp", "basket_id"]
    lines = [",".join(header)] + [",".join(str(r.get(h, "")) for h in header) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_adding_a_file_skips_bad_rows_creates_unknown_products_and_adds_nothing_the_second_time(shop, tmp_path):
    future = time.time() + 30 * 24 * 3600
    rows = [{"user_id": "a", "product_id": "p000", "event": "purchase", "timestamp": "2024-05-01T10:00:00"},
            {"user_id": "a", "product_id": "new-thing", "event": "view", "timestamp": 1_700_000_000},
            {"user_id": "b", "product_id": "p010", "weight": "-2"},
            {"user_id": "b", "product_id": "p010", "weight": "lots"},
            {"user_id": "b", "product_id": "p010", "timestamp": future},
            {"user_id": "", "product_id": "p010"},
            {"user_id": "b", "product_id": "p010", "event": "wishlist", "basket_id": "k1"}]
    path = write_csv(tmp_path / "events.csv", rows)
    report = shop.add_interactions(path)
    assert (report.read, report.added, report.products_created) == (7, 3, 1)
    assert [n for n, _ in report.skipped] == [3, 4, 5, 6]
    assert "future" in report.skipped[2][1] and "not a number" in report.skipped[1][1]
    assert shop.get_product("new-thing").title == "new-thing"
    again = shop.add_interactions(path)
    assert (again.added, again.already_there) == (0, 3)
    info = shop.recommendations.info()
    assert (info["interactions"], info["users"], info["items"]) == (3, 2, 3)
    assert info["events"] == {"purchase": 1, "view": 1, "wishlist": 1}
    weights = dict(shop.store.rows("SELECT event, weight FROM interactions"))
    assert weights == {"purchase": 5.0, "view": 1.0, "wishlist": 1.0}


def test_known_only_skips_unknown_products_and_jsonl_is_read(shop, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"user_id": "a", "product_id": "p000"},
                                                       {"user_id": "a", "product_id": "ghost"}]) + "\nnot json\n")
    report = shop.add_interactions(path, known_only=True)
    assert report.added == 1 and len(report.skipped) == 2
    with pytest.raises(ProductNotFoundError):
        shop.get_product("ghost")
    with pytest.raises(InteractionError, match=r"\.csv or \.jsonl"):
        shop.add_interactions(tmp_path / "events.txt")


def test_a_failed_add_writes_nothing(shop):
    def rows():
        yield {"user_id": "a", "product_id": "p000"}
        raise OSError("disk went away")

    with pytest.raises(Exception):
        shop.add_interactions(rows())
    assert shop.recommendations.info()["interactions"] == 0


@pytest.fixture
def fitted(shop):
    shop.add_interactions(planted_rows())
    result = shop.recommendations.fit(model="item-knn", budget_s=60)
    assert result["activated"] and result["model"] == "item-knn"
    return shop


def test_recommendations_follow_the_users_group_and_exclude_what_they_saw(fitted):
    user = "u7"
    history = [r[0] for r in fitted.store.rows("SELECT product_id FROM interactions WHERE user_id = ?", (user,))]
    group = int(history[0][1:]) // GROUP_SIZE
    hits = fitted.recommend(user=user, k=2)
    assert [int(h.product.id[1:]) // GROUP_SIZE for h in hits] == [group, group]
    assert not {h.product.id for h in hits} & set(history)
    with_seen = fitted.recommend(user=user, k=GROUP_SIZE, exclude_seen=False)
    assert {h.product.id for h in with_seen} & set(history)
    assert [h.rank for h in hits] == [1, 2]


def test_often_bought_with_a_product_and_a_basket(fitted):
    hits = fitted.recommend(product="p021", k=3)
    assert "p021" not in {h.product.id for h in hits}
    assert all(int(h.product.id[1:]) // GROUP_SIZE == 2 for h in hits)
    basket = fitted.recommend(items=["p031", "p032"], k=3)
    assert all(int(h.product.id[1:]) // GROUP_SIZE == 3 for h in basket)
    with pytest.raises(RecommenderError, match="exactly one"):
        fitted.recommend(user="u1", product="p021")


def test_a_user_without_history_gets_popular_products_filtered_by_where(fitted):
    top = fitted.recommend(user="nobody", k=3)
    counts = dict(fitted.store.rows("SELECT product_id, SUM(weight) FROM interactions GROUP BY product_id"))
    assert [h.product.id for h in top] == sorted(counts, key=lambda p: -counts[p])[:3]
    filtered = fitted.recommend(user="nobody", k=5, where="category = 'g1'")
    assert [h.product.id for h in filtered] == ["p010"]


def test_a_removed_product_is_never_recommended(fitted):
    before = [h.product.id for h in fitted.recommend(items=["p031"], k=3)]
    fitted.remove([before[0]])
    after = [h.product.id for h in fitted.recommend(items=["p031"], k=3)]
    assert before[0] not in after and len(after) == 3


def test_forgetting_a_user_removes_their_events_and_their_personal_answers(fitted):
    assert fitted.recommendations.remove_user("u7") == 8
    assert fitted.store.rows("SELECT COUNT(*) FROM interactions WHERE user_id = 'u7'")[0][0] == 0
    assert [h.product.id for h in fitted.recommend(user="u7", k=3)] == \
        [h.product.id for h in fitted.recommend(user="nobody", k=3)]


def test_a_worse_version_is_kept_inactive_unless_forced(fitted):
    active = fitted.recommendations.active().name
    worse = fitted.recommendations.fit(model="popularity", budget_s=30)
    assert not worse["activated"] and fitted.recommendations.active().name == active
    forced = fitted.recommendations.fit(model="popularity", budget_s=30, force=True)
    assert forced["activated"] and fitted.recommendations.active().model.name == "popularity"
    reopened = Catalog.open(fitted.path)
    try:
        assert reopened.recommendations.active().name == forced["version"]
        assert np.isfinite([h.score for h in reopened.recommend(user="u3", k=3)]).all()
    finally:
        reopened.close()
