"""Training targets for the centre head (TTFNet-style), from boxes in network input pixels.

Heat: a Gaussian per box whose spread follows the box's width and height (exactly 1 at the cell
holding the centre); overlapping products keep the larger value. Regression: the cells under the
central part of a box learn that box, weighted so each box counts log(area), smaller boxes winning
where boxes overlap.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.54  # Gaussian spread as a fraction of the box side (TTFNet's value)


def encode(boxes: np.ndarray, grid: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heat (grid, grid), box targets (4, grid, grid), regression weights (grid, grid))."""
    heat = np.zeros((grid, grid), np.float32)
    target = np.zeros((4, grid, grid), np.float32)
    weight = np.zeros((grid, grid), np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    centres = (np.arange(grid, dtype=np.float32) + 0.5) * stride
    for i in np.argsort(-areas):  # large first, so smaller boxes overwrite them where they overlap
        x0, y0, x1, y1 = boxes[i]
        w, h = x1 - x0, y1 - y0
        if w < 2 or h < 2:
            continue
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        sx, sy = max(ALPHA * w / 6, 0.5 * stride / 3), max(ALPHA * h / 6, 0.5 * stride / 3)
        g = np.exp(-((centres[None, :] - cx) ** 2) / (2 * sx**2) - ((centres[:, None] - cy) ** 2) / (2 * sy**2))
        peak_y, peak_x = min(grid - 1, int(cy // stride)), min(grid - 1, int(cx // stride))
        g[peak_y, peak_x] = 1.0
        heat = np.maximum(heat, g)
        inside = (g > 0.05) & (centres[None, :] > x0) & (centres[None, :] < x1) & (centres[:, None] > y0) & (centres[:, None] < y1)
        inside[peak_y, peak_x] = True
        share = g * inside
        share = share / share.sum() * np.log(max(float(areas[i]), 4.0))
        target[:, inside] = np.array([x0, y0, x1, y1], np.float32)[:, None]
        weight[inside] = share[inside]
    return heat, target, weight
