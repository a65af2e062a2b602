"""Naming the product in a photo, or saying it is not in the catalogue (open-set recognition).

Two recognisers, chosen by the active model: an off-the-shelf model compares the top search score
with the catalogue's calibrated threshold (recognition.py); a trained version scores products with
its classifier, its nearest images or a blend of both, as chosen on validation when it was trained
(training/classify.py holds that arithmetic).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import recognition
from ..catalog.store import CatalogStore, Product
from ..recognition import Calibration
from ..results import ProductHit, Recognition
from ..training.classify import category_probs, classifier_probs, load_head, mode_probs

CALIBRATION_META = "recognition_calibration"  # store meta: the threshold and confidence curve
CATEGORY_TEMPERATURE = 0.05  # softmax temperature of the candidates' category vote
TRAINED_CANDIDATES = 20  # nearest products a trained version weighs besides its classes


def stored_calibration(store: CatalogStore) -> Calibration:
    """The catalogue's calibration (`calibrate`), or the default one until it has been calibrated."""
    raw = store.get_meta(CALIBRATION_META)
    return Calibration(**json.loads(raw)) if raw else recognition.default_calibration()


def store_calibration(store: CatalogStore, cal: Calibration) -> None:
    store.set_meta({CALIBRATION_META: json.dumps(cal.to_dict())})


def unknown(cal: Calibration) -> Recognition:
    """The answer when there is nothing to compare with."""
    return Recognition(None, 0.0, 0.0, cal.threshold, None, 0.0, [])


def by_similarity(candidates: list[ProductHit], cal: Calibration) -> Recognition:
    """The top candidate if its score passes the threshold; the category by a softmax-weighted vote
    of the candidates, so an unknown product can still be recognised as "some milk"."""
    if not candidates:
        return unknown(cal)
    top = candidates[0]
    weights = np.exp((np.array([c.score for c in candidates]) - top.score) / CATEGORY_TEMPERATURE)
    votes: dict[str | None, float] = {}
    for c, w in zip(candidates, weights):
        votes[c.product.category] = votes.get(c.product.category, 0.0) + float(w)
    category, weight = max(votes.items(), key=lambda kv: kv[1])
    known = top.score >= cal.threshold
    return Recognition(
        product=top.product if known else None,
        score=top.score,
        confidence=cal.confidence(top.score),
        threshold=cal.threshold,
        category=category,
        category_confidence=weight / float(weights.sum()),
        candidates=candidates,
    )


def with_trained_version(store: CatalogStore, version_folder: Path, vector: np.ndarray,
                         search: Callable[..., list[ProductHit]], k: int) -> Recognition:
    """`by_trained_version` for a query: the version's head (cached), its nearest products by
    `search` (Catalog.search_vector) and the products that still exist."""
    candidates = search(vector, k=max(k, TRAINED_CANDIDATES))
    head = load_head(version_folder)
    alive = {p.id: p for p in store.get_products(list(head["meta"]["classes"]) + [c.product.id for c in candidates])}
    return by_trained_version(head, vector, candidates, alive, k)


def by_trained_version(head: Mapping, vector: np.ndarray, candidates: list[ProductHit],
                       alive: Mapping[str, Product], k: int) -> Recognition:
    """Recognition with a trained version's head (`training.classify.load_head`): probabilities over
    its classes plus any product added since training (kNN only); `alive` holds the products that
    still exist, since trained ones may have been deleted."""
    meta = head["meta"]
    rec = meta["recognition"]
    classes: Sequence[str] = meta["classes"]
    categories: Sequence[str] = meta["categories"]
    cal = Calibration(**rec["calibration"]) if rec.get("calibration") else recognition.default_calibration()
    if not candidates:
        return unknown(cal)
    trained = set(classes)
    names = list(classes) + [c.product.id for c in candidates if c.product.id not in trained]
    index = {p: i for i, p in enumerate(names)}
    p_cls = np.zeros(len(names))
    p_cls[: len(classes)] = classifier_probs(vector[None], head["proxies"], rec["scale"])[0]
    knn = np.full(len(names), -1.0)
    for c in candidates:
        knn[index[c.product.id]] = c.score
    mask = np.array([n in alive for n in names])
    probs = mode_probs(rec["mode"], p_cls[None], knn[None])[0] * mask
    probs = probs / max(probs.sum(), 1e-12)
    best = int(probs.argmax())
    score = float(probs[best])
    product = alive.get(names[best])
    category, category_conf = None, 0.0
    if categories and "coarse" in head:
        pc = classifier_probs(vector[None], head["coarse"][: len(categories)], rec["scale"])
        category_index = {c: i for i, c in enumerate(categories)}
        product_category = np.array([category_index.get(alive[n].category, -1) if n in alive else -1 for n in names])
        cp = category_probs(rec.get("coarse_mode", "proxies"), pc, probs[None], product_category, len(categories))[0]
        category, category_conf = categories[int(cp.argmax())], float(cp.max())
    order = sorted(candidates, key=lambda c: -probs[index[c.product.id]])[:k]
    for rank, c in enumerate(order, start=1):
        c.rank = rank
    return Recognition(
        product=product if score >= cal.threshold and product is not None else None,
        score=score,
        confidence=cal.confidence(score),
        threshold=cal.threshold,
        category=category,
        category_confidence=category_conf,
        candidates=order,
    )
