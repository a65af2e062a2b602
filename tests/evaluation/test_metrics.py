import math

import pytest

from productlens.evaluation.metrics import average_precision, mean_average_precision, recall_at_k

pytestmark = pytest.mark.fast


def test_recall_at_k_hand_computed():
    ranked = [["a", "b", "c"], ["b", "b", "a"], ["c", "c", "c"]]
    labels = ["a", "a", "a"]
    assert recall_at_k(ranked, labels, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, labels, 3) == pytest.approx(2 / 3)
    assert math.isnan(recall_at_k([], [], 1))


def test_average_precision_hand_computed():
    # relevant at ranks 1 and 3 of 2 relevant items: (1/1 + 2/3) / 2
    assert average_precision(["a", "x", "a"], "a", 2) == pytest.approx((1 + 2 / 3) / 2)
    # one of two relevant items never retrieved: (1/2) / 2
    assert average_precision(["x", "a"], "a", 2) == pytest.approx(0.25)
    assert average_precision(["x"], "a", 1) == 0.0


def test_mean_average_precision():
    ranked = [["a", "x", "a"], ["b", "b"]]
    assert mean_average_precision(ranked, ["a", "b"], [2, 2]) == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
