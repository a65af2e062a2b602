"""Open-set recognition: is the best match good enough to name the product, and how sure are we?

How the "unknown" threshold is chosen (`Catalog.calibrate`): each calibration query is scored
twice against the catalogue:
  * known:   the top score, and whether the top product is the right one;
  * unknown: every image of its own product excluded, simulating a product the catalogue
             lacks; the top score is then an impostor's.
The queries are labelled photos that are not in the catalogue (recommended: `calibrate
--photos`), or else catalogue images left out one at a time (optimistic when a product's photos
are near-duplicates, as in bursts taken in one shop visit).
The threshold maximises balanced accuracy: half the share of correct known matches accepted
plus half the share of impostors rejected. Confidence is a logistic curve over the top score,
fitted on the same samples (label: accepted and correct). Both are stored in the catalogue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Used until a catalogue is calibrated: calibrated with efficientnet-lite0 on the Grocery Store
# validation photos against its train catalogue (see docs/recognition.md).
DEFAULT_THRESHOLD = 0.75
DEFAULT_LOGISTIC = (6.2, -5.6)


@dataclass
class Calibration:
    threshold: float
    slope: float
    intercept: float
    known_queries: int
    unknown_queries: int
    known_accept_rate: float  # correct known matches at or above the threshold
    unknown_reject_rate: float  # impostors below it
    top1_accuracy: float  # leave-one-out top-1 of the known queries

    def to_dict(self) -> dict:
        return asdict(self)

    def confidence(self, score: float) -> float:
        return logistic(score, self.slope, self.intercept)


def logistic(score: float, slope: float, intercept: float) -> float:
    return float(1.0 / (1.0 + np.exp(-(slope * score + intercept))))


def default_calibration() -> Calibration:
    return Calibration(DEFAULT_THRESHOLD, *DEFAULT_LOGISTIC, 0, 0, float("nan"), float("nan"), float("nan"))


def choose_threshold(known_scores: np.ndarray, known_correct: np.ndarray, unknown_scores: np.ndarray) -> float:
    """Threshold maximising balanced accuracy of accept-correct vs reject-impostor."""
    correct = np.sort(known_scores[known_correct])
    impostor = np.sort(unknown_scores)
    if len(correct) == 0 or len(impostor) == 0:
        return DEFAULT_THRESHOLD
    candidates = np.unique(np.concatenate([correct, impostor, [correct.max() + 1e-6]]))
    accept = 1.0 - np.searchsorted(correct, candidates, side="left") / len(correct)
    reject = np.searchsorted(impostor, candidates, side="left") / len(impostor)
    best = int(np.argmax(0.5 * accept + 0.5 * reject))
    # Put the threshold midway into the gap below the chosen score, not on a sample.
    lower = candidates[best - 1] if best > 0 else candidates[best] - 1e-3
    return float((lower + candidates[best]) / 2)


def fit_logistic(scores: np.ndarray, labels: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """1-D logistic regression by Newton's method (a slight ridge keeps separable data finite)."""
    x = np.stack([scores, np.ones_like(scores)], axis=1).astype(np.float64)
    y = labels.astype(np.float64)
    w = np.zeros(2)
    ridge = 1e-3 * np.eye(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-x @ w))
        grad = x.T @ (p - y) + ridge @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def calibrate(known_scores: np.ndarray, known_correct: np.ndarray, unknown_scores: np.ndarray) -> Calibration:
    """Threshold + confidence curve from leave-one-out (known) and leave-product-out (unknown) scores."""
    known_scores = np.asarray(known_scores, dtype=np.float64)
    known_correct = np.asarray(known_correct, dtype=bool)
    unknown_scores = np.asarray(unknown_scores, dtype=np.float64)
    threshold = choose_threshold(known_scores, known_correct, unknown_scores)
    scores = np.concatenate([known_scores, unknown_scores])
    labels = np.concatenate([known_correct, np.zeros(len(unknown_scores), dtype=bool)])
    slope, intercept = fit_logistic(scores, labels) if 0 < labels.sum() < len(labels) else DEFAULT_LOGISTIC
    correct = known_scores[known_correct]
    return Calibration(
        threshold=threshold,
        slope=slope,
        intercept=intercept,
        known_queries=len(known_scores),
        unknown_queries=len(unknown_scores),
        known_accept_rate=float((correct >= threshold).mean()) if len(correct) else float("nan"),
        unknown_reject_rate=float((unknown_scores < threshold).mean()) if len(unknown_scores) else float("nan"),
        top1_accuracy=float(known_correct.mean()) if len(known_correct) else float("nan"),
    )
