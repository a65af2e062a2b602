"""Duplicate thresholds chosen on labelled pairs, with their precision and recall.

Labelled pairs come from copies whose answer is known by construction: catalogue images are
re-encoded, resized and cropped (`make_copy`), then
  image pairs    (copy, its original) = duplicate; (copy, its best other image) = not
  product pairs  (a renamed SKU: the copy + the original's title only, the original) = duplicate;
                 (that SKU, the best-scoring other product) = not
and each threshold is the one with the best F1 on its pairs (ties go to the higher threshold). An
image pair whose pixels do not line up (alignment.py) is never a duplicate, whatever its cosine,
as in `find_duplicates`; the image threshold is chosen on what that check leaves.
The copies are embedded in memory; the catalogue is not changed, except that the chosen
thresholds are stored as the `duplicates` calibration record of the near-copy space's model
(the off-the-shelf one, whatever version is active: finder.py).
"""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

from ..errors import ImageError, ProductLensError
from ..images import load_image, read_bytes
from ..text import semantic
from ..text.hybrid import normalize_rows
from .alignment import Aligner, decoded
from .finder import IMAGE_WEIGHT, DuplicateThresholds, Neighbours, text_vectors_of
from .port import DuplicateSource

log = logging.getLogger(__name__)

COPY_KINDS = ("reencode", "resize", "crop", "crop+resize+reencode")


def choose_threshold(scores: np.ndarray, labels: np.ndarray,
                     eligible: np.ndarray | None = None) -> tuple[float, float, float]:
    """(threshold, precision, recall) maximising F1 of `eligible & (score >= threshold)` on
    labelled pairs (`eligible`: pairs a threshold may accept at all; default every pair)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    eligible = np.ones(len(scores), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if labels.sum() == 0 or (~labels).sum() == 0:
        raise ProductLensError("calibration needs both duplicate and non-duplicate pairs")
    best = (-1.0, 1.0, 0.0, 0.0)
    for t in np.unique(scores[eligible])[::-1]:
        predicted = eligible & (scores >= t)
        tp = float((predicted & labels).sum())
        precision, recall = tp / max(predicted.sum(), 1), tp / labels.sum()
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        if f1 > best[0] + 1e-12:
            best = (f1, float(t), precision, recall)
    # Put the cut midway to the next lower score, so scores a hair below the lowest kept
    # positive (JPEG noise) still count.
    lower = scores[eligible & (scores < best[1])]
    threshold = (best[1] + lower.max()) / 2 if len(lower) else best[1]
    return float(threshold), float(best[2]), float(best[3])


def make_copy(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """A near-identical copy: JPEG re-encode, downscale, crop, or all three."""
    image = load_image(data).image
    w, h = image.size
    if "crop" in kind:
        f = rng.uniform(0.8, 0.92)
        cw, ch = int(w * f), int(h * f)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = image.crop((x, y, x + cw, y + ch))
    if "resize" in kind:
        f = rng.uniform(0.5, 0.8)
        image = image.resize((max(8, int(image.width * f)), max(8, int(image.height * f))), Image.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=int(rng.integers(40, 80)) if "reencode" in kind else 92)
    return out.getvalue()


def fit_thresholds_on_copies(catalog: DuplicateSource, *, n: int = 200, seed: int = 0,
                             use_text: bool = True) -> tuple[DuplicateThresholds, str]:
    """Make `n` copies of random catalogue images, score them as above in the catalogue's
    near-copy space, choose both thresholds; returns them and the space's model key."""
    space = catalog.near_copy_space()
    near = Neighbours(*space.vectors())
    if len(near) < 3:
        raise ProductLensError("duplicate calibration needs a catalogue with at least 3 embedded images")
    rng = np.random.default_rng(seed)
    images = catalog.images()
    owner = {im.id: im.product_id for im in images}
    row_of = {int(i): r for r, i in enumerate(near.ids.tolist())}
    order = rng.permutation(len(images))
    texts = text_vectors_of(catalog) if use_text else None
    encoder = semantic.get_encoder() if texts else None
    img_scores, img_labels, prod_scores, prod_labels = [], [], [], []
    img_aligned: list[bool] = []
    by_id = {im.id: im for im in images}
    copies: dict[int, Image.Image] = {}
    originals = decoded(lambda i: catalog.image_bytes(by_id[i]) if i in by_id else None)
    aligner = Aligner(lambda key: copies.pop(key[1], None) if isinstance(key, tuple) else originals(key))
    used = 0
    for i in order:
        if used >= n:
            break
        record = images[int(i)]
        if record.id not in row_of:
            continue  # no vector in the near-copy space (its file is gone)
        try:
            copy = make_copy(read_bytes(record.source or ""), COPY_KINDS[used % len(COPY_KINDS)], rng)
        except (ImageError, OSError):
            continue  # the original file is gone or unreadable: not usable for calibration
        copies[used] = load_image(copy, draft_size=space.draft_size).image
        vector = space.embed([copies[used]])[0]
        key = ("copy", used)
        used += 1
        found, scores = near.search(vector[None, :], min(len(near), 64))
        others = [(j, s) for j, s in zip(found[0].tolist(), scores[0].tolist()) if j not in (record.id, -1)]
        own = float(vector @ near.vectors[row_of[record.id]])
        img_scores += [own, others[0][1] if others else -1.0]
        img_aligned += [aligner.aligned(key, record.id), bool(others) and aligner.aligned(key, others[0][0])]
        img_labels += [True, False]
        product = catalog.get_product(record.product_id)
        own_best = max(s for j, s in [(record.id, img_scores[-2])] + others if owner.get(j) == record.product_id)
        rival = next(((owner[j], s) for j, s in others if owner.get(j) not in (None, record.product_id)), None)
        sku_text = None
        if encoder is not None and record.product_id in texts:
            sku_text = normalize_rows(encoder.encode([product.title]))[0]
        candidates = [(record.product_id, own_best, True)] + ([(rival[0], rival[1], False)] if rival else [])
        for pid, score, label in candidates:
            if sku_text is not None and pid in texts:
                score = IMAGE_WEIGHT * score + (1 - IMAGE_WEIGHT) * float(sku_text @ texts[pid])
            prod_scores.append(score)
            prod_labels.append(label)
    if used == 0:
        raise ProductLensError("none of the catalogue's image files could be read to make calibration copies")
    t_img, p_img, r_img = choose_threshold(np.array(img_scores), np.array(img_labels), np.array(img_aligned))
    t_prod, p_prod, r_prod = choose_threshold(np.array(prod_scores), np.array(prod_labels))
    return DuplicateThresholds(t_img, p_img, r_img, t_prod, p_prod, r_prod, used, "copies"), space.key
