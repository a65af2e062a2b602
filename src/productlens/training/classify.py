"""Recognition arithmetic of a trained version: product proxies (classifier), nearest reference
images, or a blend of both; which one is chosen on validation photos when the version is trained
(the engine's recognize.py applies it to queries).

Scores are probabilities over products. The "unknown" threshold and the confidence curve come
from recognition.calibrate on the validation photos: known = top probability and whether it was
right; unknown = top probability once the photo's own product is removed (a product the
catalogue lacks). The category comes from the category proxies, from the product probabilities
summed per category, or from the mean of both, again whichever was best on validation.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .. import recognition

MODES = ("classifier", "knn", "blend")
COARSE_MODES = ("proxies", "products", "both")
KNN_TEMPERATURE = 0.05


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def classifier_probs(emb: np.ndarray, proxies: np.ndarray, scale: float) -> np.ndarray:
    return softmax(scale * emb @ unit(proxies).T)


def knn_class_scores(emb: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class, the best cosine among its gallery images (-1 where it has none)."""
    sims = emb @ gallery.T
    out = np.full((len(emb), n_classes), -1.0, dtype=np.float32)
    for c in range(n_classes):
        cols = gallery_labels == c
        if cols.any():
            out[:, c] = sims[:, cols].max(axis=1)
    return out


def mode_probs(mode: str, p_cls: np.ndarray, knn_scores: np.ndarray) -> np.ndarray:
    p_knn = softmax(knn_scores / KNN_TEMPERATURE)
    return {"classifier": p_cls, "knn": p_knn, "blend": 0.5 * (p_cls + p_knn)}[mode]


def category_probs(mode: str, proxy_probs: np.ndarray, product_probs: np.ndarray, product_category: np.ndarray,
                   n_categories: int) -> np.ndarray:
    """(n, n_categories) category probabilities: the category proxies' softmax ("proxies"), the
    product probabilities summed per category ("products"), or the mean of both ("both").

    product_category: the category index of each product column (-1: none).
    """
    summed = np.zeros((len(product_probs), n_categories))
    for c in range(n_categories):
        summed[:, c] = product_probs[:, product_category == c].sum(axis=1)
    return {"proxies": proxy_probs, "products": summed, "both": 0.5 * (proxy_probs + summed)}[mode]


def coarse_validation(data, val_samples, coarse_proxies: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """choose_recognition's `coarse` argument for a LabelledSet (None without categories)."""
    if not data.categories:
        return None
    product_category = np.array([data.category_of.get(p, -1) for p in data.classes])
    return coarse_proxies[: len(data.categories)], data.coarse_labels(val_samples), product_category


def choose_recognition(val_emb: np.ndarray, val_labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray,
                       proxies: np.ndarray, scale: float,
                       coarse: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Pick the mode with the best validation top-1, then calibrate its threshold.

    coarse: (category proxies, validation category labels, category of each product) to pick
    the category mode the same way.
    """
    keep = val_labels >= 0
    val_emb, val_labels = val_emb[keep], val_labels[keep]
    if coarse is not None:
        coarse = (coarse[0], coarse[1][keep], coarse[2])
    if len(val_emb) == 0:
        return {"mode": "blend", "scale": scale, "val_top1": {}, "calibration": None}
    p_cls = classifier_probs(val_emb, proxies, scale)
    knn = knn_class_scores(val_emb, gallery, gallery_labels, len(proxies))
    accuracy = {m: float((mode_probs(m, p_cls, knn).argmax(1) == val_labels).mean()) for m in MODES}
    mode = max(MODES, key=lambda m: (accuracy[m], m == "blend"))
    probs = mode_probs(mode, p_cls, knn)
    top = probs.max(1)
    correct = probs.argmax(1) == val_labels
    rest = probs.copy()
    rest[np.arange(len(rest)), val_labels] = 0.0
    unknown = rest.max(1) / np.maximum(rest.sum(1), 1e-12)
    cal = recognition.calibrate(top, correct, unknown)
    out = {"mode": mode, "scale": scale, "val_top1": accuracy, "calibration": cal.to_dict()}
    if coarse is not None and len(coarse[0]) and (coarse[1] >= 0).any():
        coarse_proxies, val_coarse, product_category = coarse
        pc = classifier_probs(val_emb, coarse_proxies, scale)
        known = val_coarse >= 0
        coarse_acc = {m: float((category_probs(m, pc, probs, product_category, len(coarse_proxies)).argmax(1)
                                == val_coarse)[known].mean()) for m in COARSE_MODES}
        out["coarse_mode"] = max(COARSE_MODES, key=lambda m: (coarse_acc[m], m == "both"))
        out["coarse_val_top1"] = coarse_acc
    return out


@lru_cache(maxsize=8)
def _load_head(path: str, stamp: tuple[float, float]) -> dict[str, Any]:
    folder = Path(path)
    meta = json.loads((folder / "version.json").read_text())
    with np.load(folder / "head.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return {"meta": meta, **arrays}


def load_head(folder: Path) -> dict[str, Any]:
    """version.json + head.npz of a version folder, cached until either file changes."""
    stamp = ((folder / "head.npz").stat().st_mtime_ns, (folder / "version.json").stat().st_mtime_ns)
    return _load_head(str(folder), stamp)
