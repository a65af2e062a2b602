"""Before -> after on the same validation photos: does a new version beat the active one?

Both models answer the same validation folds: each validation photo is searched against the
fold's training photos, each model with its own embeddings, and recognised by each model's own
recogniser (mode, classifier, calibrated threshold). The verdict compares the validation score
(mean of nearest-image R@1 and recognition top-1); a version is only worth activating when it is
"better". Scores of 0.99+ on both sides cannot tell two models apart ("saturated"), and a run
without validation photos cannot show anything ("unvalidated").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..ranking import retrieval_metrics
from ..recognition import Recognizer
from .classify import classifier_probs, feature_rows, product_similarities, recognizer_scores
from .split import SATURATED

VERDICTS = ("better", "not better", "saturated", "unvalidated")


@dataclass
class Side:
    """How one model did on the validation photos (means over folds)."""

    r1: float  # nearest image of the right product first
    mAP: float  # image-level mean average precision
    top1: float  # recognition: the top product is right
    accepted: float  # right answers the calibrated threshold accepts
    rejected: float  # photos of products left out of the catalogue that it rejects

    @property
    def score(self) -> float:
        return 0.5 * (self.r1 + self.top1)

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in {**asdict(self), "score": self.score}.items()}


@dataclass
class Comparison:
    """The active model (`against`) before, the new version after, and the verdict."""

    against: str | None
    verdict: str
    photos: int = 0
    before: Side | None = None
    after: Side | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def better(self) -> bool:
        return self.verdict == "better"

    def to_dict(self) -> dict[str, Any]:
        return {"against": self.against, "verdict": self.verdict, "photos": self.photos,
                "before": self.before.to_dict() if self.before else None,
                "after": self.after.to_dict() if self.after else None, "notes": self.notes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Comparison":
        before, after = (Side(**{k: v for k, v in (data.get(s) or {}).items() if k != "score"}) if data.get(s) else None
                         for s in ("before", "after"))
        return cls(data.get("against"), data.get("verdict", "unvalidated"), int(data.get("photos", 0)), before, after,
                   list(data.get("notes", [])))


@dataclass
class FoldAnswers:
    """One model's embeddings of one fold: validation photos, the gallery (the fold's training
    photos) and, for a trained version, its classifier's probabilities over the run's products
    (NaN for products it never saw)."""

    val_emb: np.ndarray
    val_labels: np.ndarray
    gallery: np.ndarray
    gallery_labels: np.ndarray
    classifier: np.ndarray | None = None


def fold_answers(products: Sequence[str], val_emb: np.ndarray, val_products: Sequence[str], gallery: np.ndarray,
                 gallery_products: Sequence[str], head: Mapping[str, Any] | None = None,
                 scale: float = 16.0) -> FoldAnswers:
    """A model's answers with products as labels (index in `products`), and for a trained version
    (`head`) its classifier's probabilities spread onto those products."""
    index = {p: i for i, p in enumerate(products)}
    classifier = None
    if head is not None:
        probs = classifier_probs(val_emb, head["proxies"], scale)
        classifier = np.full((len(val_emb), len(products)), np.nan)
        for j, product in enumerate(head["meta"]["classes"]):
            if product in index:
                classifier[:, index[product]] = probs[:, j]
    return FoldAnswers(val_emb, np.array([index.get(p, -1) for p in val_products], dtype=np.int64), gallery,
                       np.array([index.get(p, -1) for p in gallery_products], dtype=np.int64), classifier)


def side(folds: list[FoldAnswers], recognizer: Recognizer, n_classes: int) -> Side:
    """A model's validation figures, averaged over folds (weighted by their photos)."""
    rows: list[tuple[int, dict[str, float]]] = []
    for fold in folds:
        keep = fold.val_labels >= 0
        if not keep.any():
            continue
        emb, labels = fold.val_emb[keep], fold.val_labels[keep]
        classifier = fold.classifier[keep] if fold.classifier is not None else None
        retrieval = retrieval_metrics(emb @ fold.gallery.T, labels, fold.gallery_labels)
        sims = product_similarities(emb, fold.gallery, fold.gallery_labels, n_classes)
        scores = recognizer_scores(sims, recognizer.mode, classifier)
        best, known = feature_rows(sims, scores)
        right = best == labels
        trained = np.ones(len(best), bool) if classifier is None else ~np.isnan(classifier[np.arange(len(best)), best])
        calibrations = [recognizer.calibration_for(bool(t)) for t in trained]
        accepted = np.array([c.confidence(row)[0] >= c.threshold for c, row in zip(calibrations, known)])
        unknown_sims = sims.copy()
        unknown_sims[np.arange(len(sims)), labels] = -np.inf
        _, unknown = feature_rows(unknown_sims, recognizer_scores(unknown_sims, recognizer.mode, classifier))
        cal = recognizer.calibration
        rejected = cal.confidence(unknown) < cal.threshold
        rows.append((len(labels), {"r1": float((sims.argmax(1) == labels).mean()), "mAP": retrieval["mAP"],
                                   "top1": float(right.mean()),
                                   "accepted": float(accepted[right].mean()) if right.any() else 0.0,
                                   "rejected": float(rejected.mean())}))
    total = sum(n for n, _ in rows)
    return Side(**{k: sum(n * r[k] for n, r in rows) / max(total, 1) for k in ("r1", "mAP", "top1", "accepted", "rejected")})


def compare(against: str | None, before: Side | None, after: Side | None, photos: int,
            first_epoch_score: float | None = None) -> Comparison:
    """The verdict of `after` against `before` on the same photos (see the module docstring)."""
    if before is None or after is None or photos == 0:
        return Comparison(against, "unvalidated", photos, before, after,
                          ["no validation photos: nothing shows the new version is better"])
    notes = []
    if min(before.score, after.score) >= SATURATED or (first_epoch_score or 0.0) >= SATURATED:
        notes.append(f"validation is saturated ({before.score:.3f} before, {after.score:.3f} after"
                     + (f", {first_epoch_score:.3f} after one epoch" if first_epoch_score is not None else "")
                     + "): its photos are too like the training photos to tell models apart")
        return Comparison(against, "saturated", photos, before, after, notes)
    verdict = "better" if after.score > before.score else "not better"
    return Comparison(against, verdict, photos, before, after, notes)
