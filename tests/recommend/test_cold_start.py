"""Synthetic check of the cold start (stated as such in docs/recommendations.md): a product with
photos and no interactions reaches the top 10 of users who bought its visual neighbours.

Four product groups, each drawn in its own look (tests/tiny.py styles); shoppers buy within one
group; one product per group has a photo and no interactions at all."""

import numpy as np
import pytest
from tiny import PRODUCTS, product_photo

from productlens import Catalog

pytestmark = pytest.mark.fast

STYLES = list(PRODUCTS)
WARM = 9


@pytest.fixture(scope="module")
def shop(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("cold")
    photos = root / "photos"
    for g, style in enumerate(STYLES):
        for n in range(WARM + 1):
            folder = photos / (f"g{g}-new" if n == WARM else f"g{g}-{n}")
            folder.mkdir(parents=True)
            product_photo(style, 100 * g + n).save(folder / "front.jpg", quality=95)
    catalog = Catalog.create(root / "shop", model=tiny_model, index="memory")
    catalog.add(photos)
    rng = np.random.default_rng(0)
    rows = [{"user_id": f"u{u}", "product_id": f"g{u % 4}-{n}", "timestamp": 1_600_000_000 + 10 * u + step}
            for u in range(160) for step, n in enumerate(rng.choice(WARM, 5, replace=False))]
    catalog.add_interactions(rows)
    yield catalog
    catalog.close()


@pytest.mark.parametrize("model", ["als", "item-knn"])
def test_a_product_with_photos_and_no_interactions_reaches_its_neighbours_buyers(shop, model):
    params = {"als": {"factors": 8}}.get(model)
    shop.recommendations.fit(model=model, budget_s=60, force=True, params={model: params} if params else None)
    found = []
    for u in range(0, 160, 7):
        top = [h.product.id for h in shop.recommend(user=f"u{u}", k=10)]
        found.append(f"g{u % 4}-new" in top)
        assert not any(p.endswith("-new") and p != f"g{u % 4}-new" for p in top[:5])
    assert np.mean(found) >= 0.8, found


def test_without_photos_a_new_product_stays_at_the_bottom(shop, tmp_path):
    shop.upsert_product(__import__("productlens").Product(id="no-photo", title="no photo"))
    shop.recommendations.fit(model="item-knn", budget_s=60, force=True)
    hits = shop.recommend(user="u1", k=40)
    assert hits[-1].product.id == "no-photo" or "no-photo" not in [h.product.id for h in hits[:30]]


def test_similar_blends_looks_with_often_bought_with(shop):
    shop.recommendations.fit(model="item-knn", budget_s=60, force=True)
    looks = [h.product.id for h in shop.similar("g1-2", k=5)]
    bought = [h.product.id for h in shop.recommend(product="g1-2", k=5)]
    assert [h.product.id for h in shop.similar("g1-2", k=5, blend=1.0)] == bought
    assert [h.product.id for h in shop.similar("g1-2", k=5, blend=0.0)] == looks
    half = shop.similar("g1-2", k=5, blend=0.5)
    assert [h.rank for h in half] == [1, 2, 3, 4, 5] and all(0 <= h.score <= 1 for h in half)
    assert "g1-2" not in {h.product.id for h in half}
