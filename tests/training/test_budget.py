"""The settings search's time estimates: the final training it reserves time for, and how many
views per photo fit in what the search leaves (#11: `train --budget` overran by minutes when the
head fits were not counted)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from productlens.training import TrainConfig
from productlens.training.candidates import FINAL_OVERHEAD_S, SCREEN_EPOCHS, TimeLimit, Setting, SettingsSearch

pytestmark = pytest.mark.fast

SETTING = Setting("efficientnet-lite0", 0.875, 1024, False)


def search(kind: str, folds: int, time_limit_s: float | None) -> SettingsSearch:
    data = SimpleNamespace(samples=[object()] * 1000, photos=[], plan=SimpleNamespace(kind=kind, folds=[None] * folds))
    found = SettingsSearch(None, data, TrainConfig(views=6, epochs=2 * SCREEN_EPOCHS), TimeLimit(time_limit_s))
    found.seconds_per_image[(SETTING.backbone, SETTING.crop)] = 0.01  # 10 s a view over 1,000 photos
    found.fit_seconds = 4.0  # the screening fits: one view, SCREEN_EPOCHS
    return found


def test_the_final_estimate_counts_extra_views_and_the_longer_fits():
    own_photos = search("photos", 1, None)
    # 2 extra views (20 s) + fits of 3 views for twice the screening epochs (4 x 3 x 2) + overhead
    assert own_photos.final_estimate(SETTING, 3) == pytest.approx(20 + 24 + FINAL_OVERHEAD_S)
    assert own_photos.reserve(SETTING) == own_photos.final_estimate(SETTING, 3)
    # held-out groups and cross-validation train one more head on every photo after their folds
    assert search("groups", 1, None).final_estimate(SETTING, 3) == pytest.approx(20 + 48 + FINAL_OVERHEAD_S)
    assert search("cross-validation", 3, None).final_estimate(SETTING, 3) == pytest.approx(20 + 24 * 4 / 3 + FINAL_OVERHEAD_S)


def test_views_are_the_most_that_fit_in_what_is_left():
    for time_limit_s, views in ((10_000, 6), (FINAL_OVERHEAD_S + 20 + 24 + 1, 3), (FINAL_OVERHEAD_S + 8 + 1, 1), (1, 1)):
        found = search("photos", 1, time_limit_s)
        assert found.views_that_fit(SETTING) == views, time_limit_s
        if views > 1:
            assert found.final_estimate(SETTING, views) <= time_limit_s
    assert search("groups", 1, None).views_that_fit(SETTING) == 6  # no budget: every configured view
