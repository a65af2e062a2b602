"""Every registered recommender, through the registry, beats a random ranking on a log with
planted structure, and new events change a user's recommendations without a refit (fold-in)."""

import time

import numpy as np
import pytest
from planted_interactions import GROUP_SIZE, planted_log

from productlens.errors import RecommenderError
from productlens.recommend import create_recommender, evaluate, hold_out_last, list_recommenders, recommender_kind
from productlens.recommend.choose import choose_recommender

pytestmark = pytest.mark.fast

SMALL = {"sasrec": {"dim": 16, "epochs": 12, "threads": 1, "batch_size": 128, "negatives": 32, "max_length": 10, "dropout": 0.1,
                    "learning_rate": 5e-3, "eval_every": 5},
         "bpr": {"iterations": 60, "factors": 16}, "als": {"factors": 16}}
RANDOM_HR = 10 / 51  # the held-out item among 50 sampled ones: a random ranking puts it in the top 10 this often


@pytest.fixture(scope="module")
def planted():
    log = planted_log()
    train, held = hold_out_last(log)
    return log, train, held


def test_registry_lists_every_model_and_refuses_an_unknown_name():
    assert {"popularity", "item-knn", "als", "bpr", "sasrec"} <= set(list_recommenders())
    assert recommender_kind("sasrec").sequential
    with pytest.raises(RecommenderError, match="choose from"):
        create_recommender("nope")


@pytest.mark.parametrize("name", ["popularity", "item-knn", "als", "bpr", "sasrec"])
def test_each_model_beats_random_on_planted_structure(planted, name):
    log, train, held = planted
    model = create_recommender(name, **SMALL.get(name, {}))
    model.fit(train)
    result = evaluate(model, train, held, everything=log, negatives=50)
    floor = 0.3 if name == "popularity" else 0.8  # popularity only knows the groups' sizes
    assert result.sampled.hr > max(floor, 1.5 * RANDOM_HR), result.sampled
    assert result.full is not None and 0 <= result.full.hr <= result.sampled.hr


def test_sasrec_with_the_papers_binary_loss_beats_random_and_an_unknown_loss_is_refused(planted):
    log, train, held = planted
    model = create_recommender("sasrec", **{**SMALL["sasrec"], "loss": "bce", "epochs": 20})
    model.fit(train)
    assert evaluate(model, train, held, everything=log, negatives=50, full=False).sampled.hr > 0.8
    with pytest.raises(RecommenderError, match="choose from softmax, bce"):
        create_recommender("sasrec", loss="hinge")


def test_sasrec_catches_up_on_newer_events_without_starting_over_and_only_in_time(planted):
    log, train, held = planted
    model = create_recommender("sasrec", **SMALL["sasrec"])
    model.fit(train)
    before = model.item_vectors().copy()
    assert not model.catch_up(log, deadline=time.monotonic() - 1) and model.caught_up_epochs == 0
    assert np.array_equal(model.item_vectors(), before)
    assert model.catch_up(log) and model.caught_up_epochs == 2
    assert not np.array_equal(model.item_vectors(), before)
    assert evaluate(model, train, held, everything=log, negatives=50, full=False).sampled.hr > 0.8
    assert not create_recommender("als", **SMALL["als"]).catch_up(log)  # it has no such step: a refit only


def test_a_winner_with_no_time_for_a_refit_catches_up_on_the_held_out_events(planted):
    log, _, _ = planted
    choice = choose_recommender(log, models=["sasrec"], budget_s=30,
                                params={"sasrec": {**SMALL["sasrec"], "epochs": 100000, "patience": 100000}})
    assert not choice.refitted and choice.caught_up and choice.to_dict()["caught_up"]
    assert choice.model.caught_up_epochs == 2


def test_als_folds_in_new_events_without_a_refit(planted):
    log, train, _ = planted
    model = create_recommender("als", **SMALL["als"])
    model.fit(train)
    factors_before = model.item_factors.copy()
    # A history from group 5 only: its top items are group 5's, the item factors untouched.
    group_five = np.arange(5 * GROUP_SIZE, 5 * GROUP_SIZE + 3)
    top = np.argsort(-model.score(np.array([-1]), [group_five])[0])[:GROUP_SIZE]
    assert np.mean((top // GROUP_SIZE) == 5) >= 0.7
    assert np.array_equal(model.item_factors, factors_before)


def test_choose_records_every_candidate_and_keeps_the_best_on_validation(planted):
    log, _, _ = planted
    choice = choose_recommender(log, models=["popularity", "item-knn", "als"], budget_s=60, params=SMALL)
    assert [c.name for c in choice.candidates] == ["popularity", "item-knn", "als"]
    assert all(c.validation is not None for c in choice.candidates)
    best = max(choice.candidates, key=lambda c: c.validation.ndcg)
    assert choice.name == best.name != "popularity" and choice.refitted


def test_choose_stops_a_model_at_the_budget(planted):
    log, _, _ = planted
    t0 = time.monotonic()
    choice = choose_recommender(log, models=["popularity", "sasrec"], budget_s=8,
                                params={"sasrec": {**SMALL["sasrec"], "epochs": 100000, "patience": 100000}})
    assert time.monotonic() - t0 < 30
    assert {c.name for c in choice.candidates} == {"popularity", "sasrec"}
