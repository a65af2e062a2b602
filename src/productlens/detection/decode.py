"""Network output -> scored boxes: heatmap peaks, their boxes, non-maximum suppression."""

from __future__ import annotations

import numpy as np

from .boxes import nms

PEAK_CANDIDATES = 100  # peaks considered before NMS


def local_peaks(heat: np.ndarray) -> np.ndarray:
    """Mask of the cells of a 2-D heatmap that are the maximum of their 3 x 3 neighbourhood."""
    padded = np.pad(heat, 1, mode="constant", constant_values=-np.inf)
    h, w = heat.shape
    neighbours = np.stack([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
    return heat >= neighbours.max(axis=0)


def decode(
    heat: np.ndarray, boxes: np.ndarray, *, min_score: float, iou: float, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 4) in input pixels, raw scores (n,)) for one image.

    heat: (H, W) objectness in 0..1; boxes: (4, H, W), the box each cell predicts. Peaks above
    `min_score` (at most PEAK_CANDIDATES) go through NMS at `iou`; at most `limit` are kept.
    """
    mask = local_peaks(heat) & (heat >= min_score)
    ys, xs = np.nonzero(mask)
    scores = heat[ys, xs]
    order = np.argsort(-scores, kind="stable")[:PEAK_CANDIDATES]
    ys, xs, scores = ys[order], xs[order], scores[order]
    candidates = boxes[:, ys, xs].T.astype(np.float64)
    valid = (candidates[:, 2] > candidates[:, 0] + 1) & (candidates[:, 3] > candidates[:, 1] + 1)
    candidates, scores = candidates[valid], scores[valid]
    keep = nms(candidates, scores, iou, limit)
    return candidates[keep].reshape(-1, 4), scores[keep]
