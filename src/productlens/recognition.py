"""Open-set recognition arithmetic: scoring a photo's candidate products, and how sure to be.

Candidates are the products nearest a photo (their best image's cosine, the search score).
`candidate_scores` turns them into scores that sum to one:
  knn         softmax of the cosines (temperature KNN_TEMPERATURE);
  classifier  a trained version's classifier probabilities for the products it was trained on,
              scaled by the nearest-image share those products hold, so a product added after
              training keeps its own share and is never forced into a class it is not;
  blend       the mean of the two.

Every model, off-the-shelf or trained, then answers on one scale: `confidence`, the probability
that the top product is right, from a logistic model over three numbers of the candidate list
(FEATURES: the top product's cosine, its lead over the next product's cosine, and its score).
`calibrate` fits it on *known* queries (label: the top product is right) and *unknown* ones (photos
of products left out of the catalogue; label: wrong, since the right answer is "unknown"). The
threshold is on the same probability scale, placed at an `OperatingPoint`: by default the lowest
that rejects 90% of the unknown queries (a wrong name costs a shop more than "not sure"), or one
the shop chooses (a share of unknowns to reject, or of known photos to accept and name right).
The whole trade-off is kept as `curve`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RECORD = "recognition"  # the calibration record (per model version) holding its Recognizer
FEATURES = ("similarity", "margin", "probability")
MODES = ("classifier", "knn", "blend")
KNN_TEMPERATURE = 0.05
CANDIDATES = 20  # nearest products a recogniser weighs
CURVE_POINTS = 21
RIDGE = 1e-2  # keeps the logistic fit finite when validation separates perfectly
PRODUCT_FOLDS = 5  # unknown queries leave a whole fold of products out of the catalogue
CATALOGUE_PHOTOS = "catalogue photos"  # the queries of a calibration without --photos, as its source names them


def product_folds(n: int, seed: int = 0, folds: int = PRODUCT_FOLDS) -> np.ndarray:
    """The fold of each of `n` products: shuffled, then dealt round (at least 2 folds)."""
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) % max(2, min(folds, n))
    return out


@dataclass(frozen=True)
class OperatingPoint:
    """Where the threshold sits on the calibration queries: the lowest one that rejects at least
    `reject_unknown` of the unknown queries, or (`accept_right`) the highest one that still
    accepts and names right at least that share of the known queries."""

    reject_unknown: float | None = 0.90
    accept_right: float | None = None

    def __post_init__(self) -> None:
        chosen = [v for v in (self.reject_unknown, self.accept_right) if v is not None]
        if len(chosen) != 1 or not 0.0 <= chosen[0] <= 1.0:
            raise ValueError("an operating point is one share in [0, 1]: unknown products to reject, "
                             "or known photos to accept and name right")

    @classmethod
    def of(cls, reject_unknown: float | None = None, accept_right: float | None = None) -> "OperatingPoint":
        """The point a shop asked for (at most one of the two), else the default."""
        if reject_unknown is not None and accept_right is not None:
            raise ValueError("choose one operating point: a share of unknown products to reject, "
                             "or of known photos to accept and name right")
        if accept_right is not None:
            return cls(reject_unknown=None, accept_right=accept_right)
        return cls() if reject_unknown is None else cls(reject_unknown=reject_unknown)

    def describe(self) -> str:
        if self.accept_right is not None:
            return f"accept and name right {self.accept_right:.0%} of known photos"
        return f"reject {self.reject_unknown:.0%} of unknown products"


DEFAULT_POINT = OperatingPoint()


@dataclass
class Calibration:
    """A fitted confidence model and its threshold; `source` says what it was fitted on."""

    weights: list[float]  # one per FEATURES, then the bias
    threshold: float  # on the confidence scale
    source: str
    known_queries: int = 0
    unknown_queries: int = 0
    known_accept_rate: float = float("nan")  # right answers accepted, at the threshold
    unknown_reject_rate: float = float("nan")  # unknown queries rejected, at the threshold
    top1_accuracy: float = float("nan")  # known queries whose top product is right
    # [threshold, right answers accepted, unknown rejected, known queries accepted and named right]
    curve: list[list[float]] = field(default_factory=list)
    accepted_right_rate: float = float("nan")  # known queries accepted and named right, at the threshold
    unknown_products: int = 0  # products the unknown queries show (left out of the catalogue)
    operating_point: str = ""  # OperatingPoint.describe() of the threshold

    @property
    def fitted(self) -> bool:
        """False for the default, which no catalogue's photos have confirmed."""
        return self.known_queries > 0

    def confidence(self, rows: np.ndarray) -> np.ndarray:
        """P(top product is right) for feature rows (see `features`)."""
        x = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        z = x @ np.asarray(self.weights[:-1]) + self.weights[-1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibration":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def default_calibration() -> Calibration:
    """Until a catalogue is calibrated: the recogniser's own score as the confidence (a steep
    logistic around 0.5 on `probability`), threshold 0.5."""
    return Calibration([0.0, 0.0, 8.0, -4.0], 0.5, "default (not calibrated on this catalogue)")


def features(similarity: Any, margin: Any, probability: Any) -> np.ndarray:
    """Rows of FEATURES from equal-length arrays (or scalars)."""
    columns = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (similarity, margin, probability)))
    return np.stack(columns, axis=-1)


def fit_logistic(x: np.ndarray, y: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Logistic regression by Newton's method with a small ridge; returns the weights, then the bias."""
    x = np.column_stack([np.asarray(x, np.float64), np.ones(len(x))])
    y = np.asarray(y, np.float64)
    w = np.zeros(x.shape[1])
    ridge = RIDGE * np.eye(x.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -60, 60)))
        gradient = x.T @ (p - y) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def trade_off(known_conf: np.ndarray, known_correct: np.ndarray, unknown_conf: np.ndarray,
              thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of right answers accepted, share of unknown queries rejected) at each threshold."""
    right = known_conf[known_correct]
    nan = np.full(len(thresholds), np.nan)
    accepted = (right[None, :] >= thresholds[:, None]).mean(axis=1) if len(right) else nan
    rejected = (unknown_conf[None, :] < thresholds[:, None]).mean(axis=1) if len(unknown_conf) else nan
    return accepted, rejected


def accepted_right(known_conf: np.ndarray, known_correct: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Share of all known queries accepted with the right product, at each threshold."""
    if not len(known_conf):
        return np.full(len(thresholds), np.nan)
    return ((known_conf[None, :] >= thresholds[:, None]) & known_correct[None, :]).mean(axis=1)


def threshold_at(known_conf: np.ndarray, known_correct: np.ndarray, unknown_conf: np.ndarray,
                 point: OperatingPoint) -> float:
    """The threshold of an operating point, midway between the confidences on either side of it."""
    values = np.unique(np.concatenate([known_conf, unknown_conf, [0.0, 1.0]]))
    if point.accept_right is not None:
        # the highest threshold still accepting enough right answers (all of them if even that falls short)
        right = np.sort(known_conf[known_correct])[::-1]
        need = int(np.ceil(point.accept_right * len(known_conf) - 1e-9))
        if need == 0:
            return 1.0
        edge = right[min(need, len(right)) - 1] if len(right) else 0.0
        below = values[values < edge]
        return float((edge + below[-1]) / 2) if len(below) else float(edge)
    # the lowest threshold rejecting enough unknown queries
    need = int(np.ceil(point.reject_unknown * len(unknown_conf) - 1e-9))
    if need == 0 or not len(unknown_conf):
        return float(values[0])
    edge = np.sort(unknown_conf)[need - 1]
    above = values[values > edge]
    return float((edge + above[0]) / 2) if len(above) else float(min(1.0, edge + 1e-6))


def choose_threshold(known_conf: np.ndarray, known_correct: np.ndarray, unknown_conf: np.ndarray) -> float:
    """The confidence threshold with the best balanced accuracy, midway into the gap below it."""
    candidates = np.unique(np.concatenate([known_conf, unknown_conf, [1.0]]))
    accepted, _ = trade_off(known_conf, known_correct, unknown_conf, candidates)
    wrong = np.concatenate([unknown_conf, known_conf[~known_correct]])  # naming a wrong product is an error too
    rejected = (wrong[None, :] < candidates[:, None]).mean(axis=1) if len(wrong) else np.zeros(len(candidates))
    best = int(np.argmax(0.5 * np.nan_to_num(accepted) + 0.5 * rejected))
    lower = candidates[best - 1] if best > 0 else max(0.0, candidates[best] - 1e-3)
    return float((lower + candidates[best]) / 2)


def calibrate(known: np.ndarray, known_correct: np.ndarray, unknown: np.ndarray, source: str,
              point: OperatingPoint | None = DEFAULT_POINT, unknown_products: int = 0) -> Calibration:
    """Fit the confidence model on known and unknown feature rows and place the threshold at
    `point` (None: the best balanced accuracy, `choose_threshold`)."""
    known = np.asarray(known, np.float64).reshape(-1, len(FEATURES))
    unknown = np.asarray(unknown, np.float64).reshape(-1, len(FEATURES))
    known_correct = np.asarray(known_correct, dtype=bool)
    labels = np.concatenate([known_correct, np.zeros(len(unknown), dtype=bool)])
    if not 0 < labels.sum() < len(labels):
        raise ValueError("calibration needs both right and wrong answers among its queries")
    cal = Calibration(fit_logistic(np.concatenate([known, unknown]), labels).tolist(), 0.5, source,
                      len(known), len(unknown), top1_accuracy=float(known_correct.mean()),
                      unknown_products=unknown_products)
    known_conf, unknown_conf = cal.confidence(known), cal.confidence(unknown)
    if point is None:
        cal.threshold, cal.operating_point = choose_threshold(known_conf, known_correct, unknown_conf), "balanced accuracy"
    else:
        cal.threshold, cal.operating_point = threshold_at(known_conf, known_correct, unknown_conf, point), point.describe()
    at = np.array([cal.threshold])
    accepted, rejected = trade_off(known_conf, known_correct, unknown_conf, at)
    cal.known_accept_rate, cal.unknown_reject_rate = float(accepted[0]), float(rejected[0])
    cal.accepted_right_rate = float(accepted_right(known_conf, known_correct, at)[0])
    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    curve_accepted, curve_rejected = trade_off(known_conf, known_correct, unknown_conf, grid)
    curve_right = accepted_right(known_conf, known_correct, grid)
    cal.curve = [[round(float(t), 3), round(float(a), 4), round(float(r), 4), round(float(ar), 4)]
                 for t, a, r, ar in zip(grid, curve_accepted, curve_rejected, curve_right)]
    return cal


# --- scoring candidates ------------------------------------------------------------------------


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def candidate_scores(similarity: np.ndarray, mode: str, classifier: np.ndarray | None = None) -> np.ndarray:
    """Scores of the candidates (see the module docstring). `classifier`: the classifier's
    probability of each candidate, NaN for products it was not trained on (None: no classifier)."""
    similarity = np.asarray(similarity, np.float64)
    if len(similarity) == 0:
        return similarity
    knn = softmax(similarity / KNN_TEMPERATURE)
    if mode == "knn" or classifier is None:
        return knn
    trained = ~np.isnan(np.asarray(classifier, np.float64))
    probabilities = np.where(trained, classifier, 0.0)
    if probabilities.sum() <= 0:
        return knn
    by_classifier = np.where(trained, knn[trained].sum() * probabilities / probabilities.sum(), knn)
    return by_classifier if mode == "classifier" else 0.5 * (by_classifier + knn)


def top_features(similarity: np.ndarray, scores: np.ndarray) -> tuple[int, np.ndarray]:
    """(index of the best-scored candidate, its FEATURES row)."""
    best = int(np.argmax(scores))
    others = np.delete(np.asarray(similarity, np.float64), best)
    margin = float(similarity[best] - others.max()) if len(others) else 1.0
    return best, features(similarity[best], margin, scores[best])


def category_vote(categories: Sequence[str | None], scores: np.ndarray) -> tuple[str | None, float]:
    """The category holding most of the candidates' scores, and its share (None without categories)."""
    votes: dict[str, float] = {}
    for category, score in zip(categories, scores.tolist()):
        if category:
            votes[category] = votes.get(category, 0.0) + score
    if not votes:
        return None, 0.0
    category, weight = max(votes.items(), key=lambda kv: kv[1])
    return category, weight / max(float(np.sum(scores)), 1e-12)


@dataclass
class Recognizer:
    """How one model version recognises: its scoring mode, the classifier's softmax scale (trained
    versions), the confidence calibrations (for its mode; for nearest images alone, used when the
    top product is one the classifier never saw), and the category mode chosen on validation."""

    mode: str = "knn"
    scale: float = 16.0
    calibration: Calibration = field(default_factory=default_calibration)
    knn_calibration: Calibration | None = None
    coarse_mode: str | None = None
    val_top1: dict[str, float] = field(default_factory=dict)

    def calibration_for(self, trained_winner: bool) -> Calibration:
        if trained_winner or self.knn_calibration is None:
            return self.calibration
        return self.knn_calibration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recognizer":
        """Inverse of to_dict. A calibration saved before confidences were probabilities (a cosine
        threshold, no `weights`) is not read: the default stands until the version is recalibrated."""
        fitted = data.get("calibration") or {}
        knn = data.get("knn_calibration") or {}
        return cls(mode=data.get("mode", "knn"), scale=float(data.get("scale", 16.0)),
                   calibration=Calibration.from_dict(fitted) if "weights" in fitted else default_calibration(),
                   knn_calibration=Calibration.from_dict(knn) if "weights" in knn else None,
                   coarse_mode=data.get("coarse_mode"), val_top1=dict(data.get("val_top1", {})))


def replay(similarity: np.ndarray, classifier: np.ndarray | None, mode: str) -> tuple[int, np.ndarray]:
    """What a recogniser answers for one query's candidates: (best candidate, its FEATURES row)."""
    return top_features(similarity, candidate_scores(similarity, mode, classifier))
