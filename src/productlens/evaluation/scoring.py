"""Scores one method's embeddings / class probabilities into the report's metrics.

Vectorised over a (queries x gallery) similarity matrix; tests check it against the pure
functions in metrics.py, which are the definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ranking import retrieval_metrics
from . import metrics

KS = (1, 2, 3, 5, 10, 20, 50)


def retrieval(sims: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray) -> dict[str, Any]:
    """Image-level retrieval: R@1/5/10, mAP over the whole gallery, mAP@R, recall-vs-k curve
    (ranking.retrieval_metrics, the one implementation training also uses)."""
    return retrieval_metrics(sims, query_labels, gallery_labels, KS)


def class_scores_from_sims(sims: np.ndarray, gallery_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class, the best similarity among its gallery images (-inf where it has none)."""
    out = np.full((len(sims), n_classes), -np.inf, dtype=np.float64)
    for c in np.unique(gallery_labels):
        out[:, c] = sims[:, gallery_labels == c].max(axis=1)
    return out


def classification(scores: np.ndarray, true: np.ndarray, n_classes: int, prefix: str) -> dict[str, Any]:
    """top-1 / top-5 accuracy, per-class accuracy and confusion matrix of class scores."""
    ranked = np.argsort(-scores, axis=1, kind="stable")
    pred = ranked[:, 0]
    return {
        f"{prefix}_top1": float((pred == true).mean()),
        f"{prefix}_top5": float((ranked[:, :5] == true[:, None]).any(axis=1).mean()),
        f"{prefix}_pred": pred,
        f"{prefix}_per_class": metrics.per_class_accuracy(true, pred, n_classes),
        f"{prefix}_confusion": metrics.confusion_matrix(true, pred, n_classes),
    }
