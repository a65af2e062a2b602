"""Extended metrics against hand-computed values on a toy ranking, and the vectorised scorer
against the pure definitions."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.evaluation import metrics, scoring

pytestmark = pytest.mark.fast


def test_map_at_r_hand_computed():
    # Query "a" has R=2 relevant items; ranking a, b, a -> within the first R=2 ranks only rank 1 hits:
    # precision@1 = 1 -> mAP@R = 1/2. Query "b" (R=1) ranked b first -> 1. Mean = 0.75.
    ranked = [["a", "b", "a"], ["b", "a", "a"]]
    assert metrics.map_at_r(ranked, ["a", "b"], [2, 1]) == pytest.approx(0.75)
    # Second query misses in its first R ranks -> 0.
    assert metrics.map_at_r([["x", "b"]], ["b"], [1]) == 0.0


def test_topk_confusion_per_class():
    ranked = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]]
    true = [0, 1, 0, 2]
    assert metrics.topk_accuracy(ranked, true, 1) == pytest.approx(1 / 4)
    assert metrics.topk_accuracy(ranked, true, 2) == 1.0  # every true class is in its first two
    cm = metrics.confusion_matrix(true, [r[0] for r in ranked], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 0, 1], [1, 0, 0]]
    acc = metrics.per_class_accuracy(true, [r[0] for r in ranked], 4)
    assert acc[0] == pytest.approx(0.5) and acc[1] == 0 and acc[2] == 0 and np.isnan(acc[3])
    assert metrics.recall_curve(ranked, true, [1, 3]) == [0.25, 1.0]


def test_vectorised_retrieval_matches_pure_functions():
    rng = np.random.default_rng(3)
    gallery_labels = rng.integers(0, 5, 40)
    query_labels = rng.integers(0, 5, 25)
    sims = rng.normal(size=(25, 40))
    out = scoring.retrieval(sims, query_labels, gallery_labels)
    ranked = [gallery_labels[np.argsort(-row, kind="stable")] for row in sims]
    totals = [(gallery_labels == q).sum() for q in query_labels]
    assert out["R@1"] == pytest.approx(metrics.recall_at_k(ranked, query_labels, 1))
    assert out["R@10"] == pytest.approx(metrics.recall_at_k(ranked, query_labels, 10))
    assert out["mAP"] == pytest.approx(metrics.mean_average_precision(ranked, query_labels, totals))
    assert out["mAP@R"] == pytest.approx(metrics.map_at_r(ranked, query_labels, totals))


def test_classification_scores():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])
    out = scoring.classification(scores, np.array([0, 1, 1]), 3, "fine")
    assert out["fine_top1"] == pytest.approx(2 / 3)
    assert out["fine_top5"] == 1.0
    assert out["fine_confusion"].tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
