"""Pure retrieval metrics over ranked label lists (tested against hand-computed values).

A ranking is the list of gallery labels in the order a query retrieved them; `relevant_total`
is how many gallery items share the query's label (needed for mAP's recall denominator).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def recall_at_k(ranked_labels: Sequence[Sequence], query_labels: Sequence, k: int) -> float:
    """Share of queries with at least one correct item in the top k (retrieval Recall@K)."""
    if not len(query_labels):
        return float("nan")
    hits = [q in list(r[:k]) for r, q in zip(ranked_labels, query_labels)]
    return float(np.mean(hits))


def average_precision(ranked_labels: Sequence, query_label, relevant_total: int) -> float:
    """AP of one ranking: mean of precision@i over the ranks i holding a relevant item."""
    if relevant_total <= 0:
        return 0.0
    relevant = np.asarray([label == query_label for label in ranked_labels], dtype=bool)
    if not relevant.any():
        return 0.0
    ranks = np.flatnonzero(relevant) + 1
    precision_at_hits = np.arange(1, len(ranks) + 1) / ranks
    return float(precision_at_hits.sum() / relevant_total)


def mean_average_precision(
    ranked_labels: Sequence[Sequence], query_labels: Sequence, relevant_totals: Sequence[int]
) -> float:
    """mAP over queries; rankings should cover the whole gallery for the textbook value."""
    aps = [average_precision(r, q, n) for r, q, n in zip(ranked_labels, query_labels, relevant_totals)]
    return float(np.mean(aps)) if aps else float("nan")


def map_at_r(ranked_labels: Sequence[Sequence], query_labels: Sequence, relevant_totals: Sequence[int]) -> float:
    """mAP@R (Musgrave et al. 2020): precision averaged over the first R ranks, R = relevant count."""
    scores = []
    for ranking, q, r in zip(ranked_labels, query_labels, relevant_totals):
        if r <= 0:
            scores.append(0.0)
            continue
        hits = np.asarray([label == q for label in list(ranking)[:r]], dtype=bool)
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        scores.append(float((precision * hits).sum() / r))
    return float(np.mean(scores)) if scores else float("nan")


def topk_accuracy(ranked_classes: Sequence[Sequence], true_classes: Sequence, k: int) -> float:
    """Share of samples whose true class is among the first k predicted classes."""
    if not len(true_classes):
        return float("nan")
    return float(np.mean([t in list(r[:k]) for r, t in zip(ranked_classes, true_classes)]))


def confusion_matrix(true: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """(n, n) counts: row = true class, column = predicted class (out-of-range ids ignored)."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(true, predicted):
        if 0 <= t < n_classes and 0 <= p < n_classes:
            out[t, p] += 1
    return out


def per_class_accuracy(true: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """Accuracy per true class (nan for classes without samples)."""
    cm = confusion_matrix(true, predicted, n_classes)
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def recall_curve(ranked_labels: Sequence[Sequence], query_labels: Sequence, ks: Sequence[int]) -> list[float]:
    """Recall@k for each k (for the recall-vs-k plot)."""
    return [recall_at_k(ranked_labels, query_labels, k) for k in ks]
