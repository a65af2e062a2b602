"""Pure box geometry: IoU, non-maximum suppression, and the letterbox that maps network input
pixels back to the original photo's pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

PAD_VALUE = (127, 127, 127)  # letterbox fill: 0 after the network's (x - 127) / 128 scaling


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n, 4) with every box in `b` (m, 4), boxes as (x0, y0, x1, y1)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int | None = None) -> list[int]:
    """Indices of the boxes greedy non-maximum suppression keeps, best score first.

    A box is dropped when it overlaps an already kept, higher-scoring box by more than
    `iou_threshold`; at most `limit` are kept.
    """
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    keep: list[int] = []
    while order and (limit is None or len(keep) < limit):
        best = order.pop(0)
        keep.append(int(best))
        if not order:
            break
        overlaps = iou_matrix(boxes[best : best + 1], boxes[order])[0]
        order = [i for i, o in zip(order, overlaps) if o <= iou_threshold]
    return keep


@dataclass(frozen=True)
class Letterbox:
    """How a photo was fitted into the square network input: scaled by `scale`, offset by (dx, dy)."""

    scale: float
    dx: float
    dy: float
    width: int  # the photo's size, to clip boxes to it
    height: int

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """Input-pixel boxes (n, 4) -> the photo's pixels, clipped to the photo."""
        out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.dx) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.dy) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """The photo's pixel boxes (n, 4) -> network input pixels (for training targets)."""
        out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.dx
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.dy
        return out


def letterbox(image: Image.Image, size: int) -> tuple[Image.Image, Letterbox]:
    """`image` scaled (aspect kept) and centred on a `size` x `size` grey square.

    Large photos are reduced by Pillow's fast integer steps first (`reducing_gap`), so a 12 MP
    photo costs about as much as a small one.
    """
    width, height = image.size
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = image.convert("RGB").resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=3.0)
    canvas = Image.new("RGB", (size, size), PAD_VALUE)
    dx, dy = (size - new_w) // 2, (size - new_h) // 2
    canvas.paste(resized, (dx, dy))
    return canvas, Letterbox(new_w / width, float(dx), float(dy), width, height)


def to_network(image: Image.Image) -> np.ndarray:
    """RGB square -> (3, S, S) float32 in [-1, 1], the EfficientNet-Lite scaling."""
    pixels = np.asarray(image, dtype=np.float32)
    return np.ascontiguousarray(((pixels - 127.0) / 128.0).transpose(2, 0, 1))
