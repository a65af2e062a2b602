"""Detection metrics, pure functions over boxes (x0, y0, x1, y1): greedy matching at an IoU
threshold, box recall, and average precision (VOC all-point interpolation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .boxes import iou_matrix


def match(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching, best score first: (for each prediction the index of the true box it
    matches or -1, for each true box the index of the prediction matching it or -1)."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
    pred_to_truth = np.full(len(pred), -1)
    truth_to_pred = np.full(len(truth), -1)
    if not len(pred) or not len(truth):
        return pred_to_truth, truth_to_pred
    overlaps = iou_matrix(pred, truth)
    for p in np.argsort(-np.asarray(scores), kind="stable"):
        candidates = np.where(truth_to_pred < 0, overlaps[p], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= iou:
            pred_to_truth[p], truth_to_pred[best] = best, p
    return pred_to_truth, truth_to_pred


def average_precision(scores: np.ndarray, correct: np.ndarray, positives: int) -> float:
    """Area under the precision-recall curve, precision made monotone (VOC 2010+ all-point)."""
    if positives == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(correct, dtype=np.float64)[order]
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / positives
    precision = np.concatenate([[0.0], precision, [0.0]])
    recall = np.concatenate([[0.0], recall, [recall[-1] if len(recall) else 0.0]])
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


@dataclass(frozen=True)
class PhotoScore:
    """One photo's detections judged against its boxes."""

    true_boxes: int
    found: int  # true boxes matched by a detection
    detections: int
    correct: np.ndarray  # per detection, whether it matched a true box
    scores: np.ndarray

    @property
    def recall(self) -> float:
        return self.found / self.true_boxes if self.true_boxes else 1.0


def score_photo(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou: float = 0.5) -> PhotoScore:
    """Match one photo's detections to its true boxes."""
    pred_to_truth, truth_to_pred = match(pred, scores, truth, iou)
    return PhotoScore(len(truth_to_pred), int((truth_to_pred >= 0).sum()), len(pred_to_truth),
                      pred_to_truth >= 0, np.asarray(scores, dtype=np.float64))


@dataclass(frozen=True)
class DetectionScores:
    """Box recall and AP over a set of photos."""

    photos: int
    true_boxes: int
    recall: float
    ap: float


def summarise(photos: Sequence[PhotoScore]) -> DetectionScores:
    """Recall (matched true boxes / all true boxes) and AP over every detection of every photo."""
    positives = sum(p.true_boxes for p in photos)
    found = sum(p.found for p in photos)
    scores = np.concatenate([p.scores for p in photos]) if photos else np.zeros(0)
    correct = np.concatenate([p.correct for p in photos]) if photos else np.zeros(0, bool)
    return DetectionScores(len(photos), positives, found / positives if positives else float("nan"),
                           average_precision(scores, correct, positives))
