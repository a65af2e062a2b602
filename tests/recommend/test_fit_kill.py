"""kill -9 during `productlens recommend fit` at points drawn across a full run: the catalogue
always opens with a complete active recommender (the old one, or the new one once it is whole)."""

import pytest
from planted_interactions import planted_log
from processes import cli_command, kill_after, timed_run

from productlens import Catalog
from productlens.recommend.versions import load_version


@pytest.fixture
def shop(tmp_path, tiny_model):
    log = planted_log(users=200)
    rows = [{"user_id": log.user_ids[u], "product_id": log.item_ids[i], "timestamp": 1_600_000_000 + n}
            for n, (u, i) in enumerate(zip(log.users, log.items))]
    with Catalog.create(tmp_path / "shop", model=tiny_model, index="memory") as catalog:
        catalog.add_interactions(rows)
        catalog.recommendations.fit(model="popularity", budget_s=30)
        first = catalog.recommendations.active().name
    return tmp_path / "shop", first


def test_a_killed_fit_leaves_a_whole_active_recommender(shop):
    path, _ = shop
    fit = cli_command("--catalog", path, "recommend", "fit", "--model", "als", "--force")
    seconds = timed_run(fit)
    for fraction in (0.2, 0.5, 0.8, 0.95):
        kill_after(fit, seconds * fraction)
        with Catalog.open(path) as catalog:
            active = catalog.recommendations.active()  # loads: never a half-written version
            assert active is not None and active.model.name in ("popularity", "als")
            assert catalog.recommend(user="u3", k=3)
        for version in (path / "models" / "recommenders").glob("*.pkl"):  # a temp file is hidden (.name.pid.tmp)
            assert load_version(version).model.name in ("popularity", "als")
