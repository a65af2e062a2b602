"""The interaction log, the leave-last-out split (no held-out event leaks into training) and the
ranking metrics against hand-computed values."""

import numpy as np
import pytest

from productlens.recommend import InteractionLog, hold_out_last, leave_last_out, ranking_scores
from productlens.recommend.evaluate import sample_negatives
from productlens.recommend.metrics import rank_of_first

pytestmark = pytest.mark.fast


def test_log_orders_each_users_events_by_time_and_codes_ids_densely():
    log = InteractionLog.from_events(["b", "a", "b", "a"], ["x", "y", "z", "x"], timestamps=[5, 9, 1, 2],
                                     item_ids=["w"])
    assert list(log.user_ids) == ["a", "b"] and list(log.item_ids) == ["w", "x", "y", "z"]
    assert [list(log.item_ids[s]) for s in log.sequences()] == [["x", "y"], ["z", "x"]]
    assert log.matrix().shape == (2, 4) and log.matrix().sum() == 4


def test_leave_last_out_holds_out_the_last_two_events_and_nothing_leaks():
    rng = np.random.default_rng(3)
    users = rng.integers(0, 50, 600)
    log = InteractionLog.from_events(users, rng.integers(0, 80, 600), timestamps=rng.random(600))
    split = leave_last_out(log)
    sequences = log.sequences()
    evaluated = {int(u) for u in split.test.users}
    assert evaluated == {u for u, s in enumerate(sequences) if len(s) >= 3}
    train_rows = set(zip(split.train.users.tolist(), split.train.timestamps.tolist()))
    for u, v_item, t_item in zip(split.validation.users, split.validation.items, split.test.items):
        assert sequences[u][-1] == t_item and sequences[u][-2] == v_item
        last_two = log.timestamps[log.user_starts()[u + 1] - 2:log.user_starts()[u + 1]]
        assert not any((int(u), float(t)) in train_rows for t in last_two)  # no held-out event in training
        assert len(split.train.sequences()[u]) == len(sequences[u]) - 2
    assert len(split.train) + 2 * len(split.test) == len(log)
    assert len(split.train_and_validation) == len(log) - len(split.test)


def test_hold_out_last_keeps_short_histories_whole():
    log = InteractionLog.from_events(["a", "b", "b"], ["x", "x", "y"])
    rest, held = hold_out_last(log, min_events=2)
    assert list(held.users) == [1] and log.item_ids[held.items[0]] == "y" and len(rest) == 2


def test_hr_and_ndcg_match_hand_computed_values():
    scores = ranking_scores(np.array([0, 3, 10, 25]), k=10)
    assert scores.hr == pytest.approx(0.5)
    assert scores.ndcg == pytest.approx((1.0 + 1 / np.log2(5)) / 4)


def test_rank_of_first_counts_higher_scores_and_breaks_ties_within_their_range():
    rng = np.random.default_rng(0)
    ranks = rank_of_first(np.array([[0.5, 0.9, 0.1, 0.7], [1.0, 0.0, 0.0, 0.0]]), rng)
    assert list(ranks) == [2, 0]
    tied = rank_of_first(np.zeros((200, 5)), rng)
    assert tied.min() == 0 and tied.max() == 4


def test_sampled_negatives_are_items_the_user_never_touched():
    log = InteractionLog.from_events(["a"] * 5 + ["b"], ["i0", "i1", "i2", "i3", "i4", "i0"],
                                     item_ids=[f"i{n}" for n in range(8)])
    negatives = sample_negatives(log, np.array([0, 1]), 50, np.random.default_rng(0))
    assert set(negatives[0].tolist()) == {5, 6, 7}
    assert 0 not in negatives[1] and len(set(negatives[1].tolist())) == 7
