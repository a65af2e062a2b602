"""Pure ranking helpers: image hits -> product hits, how good a ranking is, and query boxes."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from .errors import InputError

Box = tuple[float, float, float, float]


def aggregate_best_image(
    image_ids: np.ndarray, scores: np.ndarray, image_to_product: Mapping[int, str], k: int
) -> list[tuple[str, float, int]]:
    """Collapse ranked image hits to products, scoring each by its best image.

    Returns up to k (product_id, score, best_image_id), best first. Hits are assumed sorted by
    descending score (as every index returns them); ids < 0 and unknown ids are skipped.
    """
    seen: dict[str, tuple[float, int]] = {}
    for image_id, score in zip(image_ids.tolist(), scores.tolist()):
        product = image_to_product.get(image_id) if image_id >= 0 else None
        if product is None or product in seen:
            continue
        seen[product] = (float(score), int(image_id))
        if len(seen) == k:
            break
    return [(p, s, i) for p, (s, i) in seen.items()]


def parse_box(text: str) -> Box:
    """'x0,y0,x1,y1' in pixels, or all four in [0, 1] as fractions of the image."""
    try:
        parts = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"box {text!r}: expected four numbers x0,y0,x1,y1") from None
    if len(parts) != 4:
        raise InputError(f"box {text!r}: expected four numbers x0,y0,x1,y1")
    return parts  # type: ignore[return-value]


def crop_to_box(image: Image.Image, box: Sequence[float]) -> Image.Image:
    """Crop an upright image to a query box (pixels, or fractions when all values are <= 1)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if max(x0, y0, x1, y1) <= 1.0:
        x0, x1 = x0 * image.width, x1 * image.width
        y0, y1 = y0 * image.height, y1 * image.height
    x0, x1 = sorted((max(0.0, x0), min(float(image.width), x1)))
    y0, y1 = sorted((max(0.0, y0), min(float(image.height), y1)))
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise InputError(
            f"box {tuple(box)} leaves less than 8x8 pixels of a {image.width}x{image.height} image"
        )
    return image.crop((round(x0), round(y0), round(x1), round(y1)))


def retrieval_metrics(sims: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray,
                      ks: Sequence[int] = (1, 5, 10)) -> dict[str, Any]:
    """Image-level retrieval of queries against a gallery by similarity: R@1/5/10, mAP over the
    whole gallery, mAP@R, the recall-vs-k curve over `ks`, and each query's top image."""
    order = np.argsort(-sims, axis=1, kind="stable")
    rel = gallery_labels[order] == query_labels[:, None]
    totals = (gallery_labels[None, :] == query_labels[:, None]).sum(axis=1)
    first = np.where(rel.any(axis=1), rel.argmax(axis=1), np.iinfo(np.int64).max)
    ranks = np.arange(1, rel.shape[1] + 1)
    cum = np.cumsum(rel, axis=1)
    ap = (cum / ranks * rel).sum(axis=1) / np.maximum(totals, 1)
    in_r = ranks[None, :] <= totals[:, None]
    map_r = (cum / ranks * rel * in_r).sum(axis=1) / np.maximum(totals, 1)
    curve = {k: float((first < k).mean()) for k in sorted({1, 5, 10, *ks})}
    return {"R@1": curve[1], "R@5": curve[5], "R@10": curve[10], "mAP": float(ap.mean()),
            "mAP@R": float(map_r.mean()), "recall_curve": curve, "top_image": order[:, 0]}
