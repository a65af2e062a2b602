"""Naming the product in a photo, or saying it is not in the catalogue (open-set recognition).

One path for every model: the photo's nearest products (the search scores) are scored by the
model version's recogniser (recognition.py: nearest images, and for a trained version its
classifier too, as chosen on validation), and the top one is named when its calibrated
confidence reaches the threshold. A product added after training is found through its images in
the trained embedding space; a removed one cannot be a candidate. The recogniser and its
calibration belong to the model version (the `recognition` calibration record, see calibrate.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import recognition
from ..catalog.store import CatalogStore, ModelRecord
from ..recognition import RECORD, Recognizer
from ..results import ProductHit, Recognition
from ..training.classify import category_probs, classifier_probs

def recognizer_of(store: CatalogStore, model: ModelRecord | None, head: Mapping[str, Any] | None) -> Recognizer:
    """The model version's recogniser: its calibration record, else what a trained version saved
    with itself, else nearest images with the default (uncalibrated) confidence."""
    record = store.get_calibration(model.key, RECORD) if model is not None else None
    if record is not None:
        return Recognizer.from_dict(record.value)
    if head is not None:
        return Recognizer.from_dict(head["meta"].get("recognition") or {})
    return Recognizer()


def unknown(recognizer: Recognizer) -> Recognition:
    """The answer when there is nothing to compare with."""
    cal = recognizer.calibration
    return Recognition(None, 0.0, 0.0, cal.threshold, None, 0.0, [], cal.source)


def classifier_column(head: Mapping[str, Any], vector: np.ndarray, candidates: list[ProductHit],
                      scale: float) -> np.ndarray:
    """The trained classifier's probability of each candidate (NaN for products it never saw)."""
    classes = head["meta"]["classes"]
    probabilities = classifier_probs(vector[None], head["proxies"], scale)[0]
    index = {product: i for i, product in enumerate(classes)}
    return np.array([probabilities[index[c.product.id]] if c.product.id in index else np.nan for c in candidates])


@dataclass
class Scored:
    """A recogniser's reading of one photo's candidates."""

    similarity: np.ndarray  # each candidate's best-image cosine (the search score)
    scores: np.ndarray  # the recogniser's scores, summing to one
    best: int  # the top-scored candidate
    row: np.ndarray  # its recognition.FEATURES row
    trained_winner: bool  # the top product is one the classifier was trained on (or there is no classifier)


def score(recognizer: Recognizer, vector: np.ndarray, candidates: list[ProductHit], head: Mapping[str, Any] | None,
          mode: str | None = None) -> Scored:
    """Score non-empty candidates with the recogniser's mode (or `mode`); calibration replays this."""
    similarity = np.array([c.score for c in candidates], dtype=np.float64)
    column = classifier_column(head, vector, candidates, recognizer.scale) if head is not None else None
    scores = recognition.candidate_scores(similarity, mode or recognizer.mode, column)
    best, row = recognition.top_features(similarity, scores)
    return Scored(similarity, scores, best, row, column is None or not np.isnan(column[best]))


def recognize(recognizer: Recognizer, vector: np.ndarray, candidates: list[ProductHit],
              head: Mapping[str, Any] | None, k: int) -> Recognition:
    """Recognition of a query embedding from its nearest products (best first, by cosine)."""
    if not candidates:
        return unknown(recognizer)
    scored = score(recognizer, vector, candidates, head)
    cal = recognizer.calibration_for(scored.trained_winner)
    confidence = float(cal.confidence(scored.row)[0])
    category, category_confidence = _category(recognizer, vector, candidates, scored.scores, head)
    order = sorted(range(len(candidates)), key=lambda i: -scored.scores[i])[:k]
    ranked = [ProductHit(candidates[i].product, candidates[i].score, candidates[i].image_id, rank)
              for rank, i in enumerate(order, start=1)]
    return Recognition(
        product=candidates[scored.best].product if confidence >= cal.threshold else None,
        score=float(scored.similarity[scored.best]),
        confidence=confidence,
        threshold=cal.threshold,
        category=category,
        category_confidence=category_confidence,
        candidates=ranked,
        calibration=cal.source,
    )


def _category(recognizer: Recognizer, vector: np.ndarray, candidates: list[ProductHit], scores: np.ndarray,
              head: Mapping[str, Any] | None) -> tuple[str | None, float]:
    """The photo's category: a trained version's category mode (proxies, summed product scores, or
    both), else the category holding most of the candidates' scores, so an unknown product can
    still be recognised as "some milk"."""
    candidate_categories = [c.product.category for c in candidates]
    categories: list[str] = list(head["meta"].get("categories") or []) if head is not None else []
    if not categories or "coarse" not in head or recognizer.coarse_mode is None:
        return recognition.category_vote(candidate_categories, scores)
    proxy_probs = classifier_probs(vector[None], head["coarse"][: len(categories)], recognizer.scale)
    index = {c: i for i, c in enumerate(categories)}
    product_category = np.array([index.get(c, -1) if c else -1 for c in candidate_categories])
    probs = category_probs(recognizer.coarse_mode, proxy_probs, scores[None], product_category, len(categories))[0]
    return categories[int(probs.argmax())], float(probs.max())
