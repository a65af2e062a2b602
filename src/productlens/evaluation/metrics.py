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
