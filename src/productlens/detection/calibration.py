"""Platt scaling of raw detection scores: p = sigmoid(a * logit(raw) + b), fitted on held-out
detections labelled by whether they matched a true box. Monotone, so rankings, recall and AP are
unchanged; only the number a user reads becomes a probability."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Platt:
    """The two fitted numbers; the identity is a=1, b=0."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(raw) + self.b)))


def fit_platt(raw: np.ndarray, correct: np.ndarray, iterations: int = 100) -> Platt:
    """Logistic regression of `correct` on logit(raw) by Newton's method (a tiny ridge keeps it
    finite when the classes separate)."""
    x = _logit(raw)
    y = np.asarray(correct, dtype=np.float64)
    if len(x) == 0 or y.min() == y.max():
        return Platt()
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = p * (1 - p) + 1e-9
        grad = np.array([np.sum((p - y) * x) + 1e-3 * a, np.sum(p - y)])
        hess = np.array([[np.sum(w * x * x) + 1e-3, np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return Platt(float(a), float(b))
