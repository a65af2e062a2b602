"""Recognition of a trained version, replayed on validation photos: which scoring mode (classifier,
nearest images, or both; recognition.py) and which category mode to use, and the calibrated
confidence of each, all chosen on validation when the version is trained.

Replaying works on matrices: per validation photo, the best cosine of every product's training
images (`product_similarities`), the classifier's probabilities, and from them the scores the
engine would give the same photo's top `recognition.CANDIDATES` products. *Unknown* queries are the
same photos with their own product left out, as if the catalogue lacked it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .. import recognition
from ..recognition import CANDIDATES, MODES, Recognizer

COARSE_MODES = ("proxies", "products", "both")


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def classifier_probs(emb: np.ndarray, proxies: np.ndarray, scale: float) -> np.ndarray:
    return recognition.softmax(scale * emb @ unit(proxies).T)


def product_similarities(emb: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per product, the best cosine among its gallery images (-inf where it has none)."""
    sims = emb @ gallery.T
    out = np.full((len(emb), n_classes), -np.inf, dtype=np.float64)
    for c in range(n_classes):
        cols = gallery_labels == c
        if cols.any():
            out[:, c] = sims[:, cols].max(axis=1)
    return out


def recognizer_scores(similarities: np.ndarray, mode: str, p_cls: np.ndarray | None = None) -> np.ndarray:
    """(n, products) scores a recogniser gives each photo's top CANDIDATES products (0 elsewhere)."""
    scores = np.zeros(similarities.shape)
    order = np.argsort(-similarities, axis=1, kind="stable")[:, :CANDIDATES]
    for i, candidates in enumerate(order):
        candidates = candidates[np.isfinite(similarities[i, candidates])]
        classifier = None if p_cls is None else p_cls[i, candidates]
        scores[i, candidates] = recognition.candidate_scores(similarities[i, candidates], mode, classifier)
    return scores


def feature_rows(similarities: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best product, recognition.FEATURES row) per photo, as the engine computes them."""
    best = scores.argmax(axis=1)
    rows = np.arange(len(scores))
    top = similarities[rows, best]
    rest = similarities.copy()
    rest[rows, best] = -np.inf
    runner_up = rest.max(axis=1)
    margin = np.where(np.isfinite(runner_up), top - runner_up, 1.0)
    return best, recognition.features(top, margin, scores[rows, best])


def category_probs(mode: str, proxy_probs: np.ndarray, product_probs: np.ndarray, product_category: np.ndarray,
                   n_categories: int) -> np.ndarray:
    """(n, n_categories) category probabilities: the category proxies' softmax ("proxies"), the
    product scores summed per category ("products"), or the mean of both ("both").

    product_category: the category index of each product column (-1: none).
    """
    summed = np.zeros((len(product_probs), n_categories))
    for c in range(n_categories):
        summed[:, c] = product_probs[:, product_category == c].sum(axis=1)
    return {"proxies": proxy_probs, "products": summed, "both": 0.5 * (proxy_probs + summed)}[mode]


@dataclass
class Replay:
    """One validation fold as a recogniser sees it: validation embeddings and labels, the gallery
    it is searched against, the classifier's proxies, and category proxies and labels if any."""

    val_emb: np.ndarray
    val_labels: np.ndarray
    gallery: np.ndarray
    gallery_labels: np.ndarray
    proxies: np.ndarray
    coarse_proxies: np.ndarray | None = None
    val_coarse: np.ndarray | None = None


@dataclass
class _Answers:
    """A fold's answers under one mode: product scores, right or not, known and unknown rows."""

    scores: np.ndarray
    right: np.ndarray
    known: np.ndarray
    unknown: np.ndarray


def _replay(fold: Replay, scale: float) -> tuple[dict[str, _Answers], np.ndarray]:
    """Each mode's answers for one fold (photos without a label left out), and the kept mask."""
    keep = fold.val_labels >= 0
    emb, labels = fold.val_emb[keep], fold.val_labels[keep]
    p_cls = classifier_probs(emb, fold.proxies, scale)
    sims = product_similarities(emb, fold.gallery, fold.gallery_labels, len(fold.proxies))
    unknown_sims = sims.copy()
    unknown_sims[np.arange(len(sims)), labels] = -np.inf
    answers = {}
    for m in MODES:
        scores = recognizer_scores(sims, m, p_cls)
        best, known = feature_rows(sims, scores)
        answers[m] = _Answers(scores, best == labels, known,
                              feature_rows(unknown_sims, recognizer_scores(unknown_sims, m, p_cls))[1])
    return answers, keep


def choose_recognition(folds: list[Replay], scale: float, product_category: np.ndarray | None = None,
                       source: str = "validation photos") -> Recognizer:
    """Pick the scoring mode with the best validation top-1 over the folds and calibrate it (and
    nearest images alone, for products added after training); with `product_category` (the
    category index of each product, -1 none) and category proxies, pick the category mode too."""
    replayed = [(fold, *_replay(fold, scale)) for fold in folds if (fold.val_labels >= 0).any()]
    if not replayed:
        return Recognizer(mode="blend", scale=scale)

    def pooled(m: str, part: str) -> np.ndarray:
        return np.concatenate([getattr(answers[m], part) for _, answers, _ in replayed])

    accuracy = {m: float(pooled(m, "right").mean()) for m in MODES}
    mode = max(MODES, key=lambda m: (accuracy[m], m == "blend"))

    def fitted(m: str) -> recognition.Calibration | None:
        try:
            return recognition.calibrate(pooled(m, "known"), pooled(m, "right"), pooled(m, "unknown"), source)
        except ValueError:  # every answer right (or wrong): nothing to tell them apart by
            return None

    recognizer = Recognizer(mode=mode, scale=scale, calibration=fitted(mode) or recognition.default_calibration(),
                            knn_calibration=fitted("knn") if mode != "knn" else None, val_top1=accuracy)
    if product_category is not None:
        recognizer.coarse_mode = _coarse_mode(replayed, mode, scale, product_category)
    return recognizer


def _coarse_mode(replayed, mode: str, scale: float, product_category: np.ndarray) -> str | None:
    """The category mode with the best validation top-1 (None without category labels)."""
    right: dict[str, list[np.ndarray]] = {c: [] for c in COARSE_MODES}
    for fold, answers, keep in replayed:
        if fold.coarse_proxies is None or fold.val_coarse is None or not len(fold.coarse_proxies):
            continue
        val_coarse = fold.val_coarse[keep]
        pc = classifier_probs(fold.val_emb[keep], fold.coarse_proxies, scale)
        for c in COARSE_MODES:
            probs = category_probs(c, pc, answers[mode].scores, product_category, len(fold.coarse_proxies))
            right[c].append((probs.argmax(1) == val_coarse)[val_coarse >= 0])
    if not right["proxies"] or not len(np.concatenate(right["proxies"])):
        return None
    accuracy = {c: float(np.concatenate(right[c]).mean()) for c in COARSE_MODES}
    return max(COARSE_MODES, key=lambda c: (accuracy[c], c == "both"))


@lru_cache(maxsize=8)
def _load_head(head: str, meta_file: str, stamp: tuple[float, float]) -> dict[str, Any]:
    meta = json.loads(Path(meta_file).read_text())
    with np.load(head) as z:
        arrays = {k: z[k] for k in z.files}
    return {"meta": meta, **arrays}


def load_head(head: Path, meta_file: Path) -> dict[str, Any]:
    """A trained version's head arrays and its metadata (as "meta"), cached until either file changes."""
    stamp = (head.stat().st_mtime_ns, meta_file.stat().st_mtime_ns)
    return _load_head(str(head), str(meta_file), stamp)
