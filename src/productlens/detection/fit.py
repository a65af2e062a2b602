"""Training the detector cheaply: the frozen trunk runs once per image and its features are cached;
only the tail (last backbone block, FPN, head) is trained on them, for a few epochs.

torch is imported inside the functions: this module is for training runs, not for inference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .network import STRIDE
from .targets import encode

log = logging.getLogger(__name__)

FOCAL_ALPHA, FOCAL_BETA = 2.0, 4.0  # CenterNet's penalty-reduced focal loss
BOX_LOSS_WEIGHT = 5.0


@dataclass
class FeatureCache:
    """The trunk's outputs for a set of inputs (float16 to halve memory) and their targets."""

    c3: np.ndarray
    c4: np.ndarray
    c5_in: np.ndarray
    heat: np.ndarray
    target: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.c3)

    @classmethod
    def concat(cls, parts: Sequence[FeatureCache]) -> FeatureCache:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("c3", "c4", "c5_in", "heat", "target", "weight")))


def cache_features(trunk: object, inputs: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
                   batch: int = 32, progress: Callable[[int], None] | None = None) -> FeatureCache:
    """Run the frozen trunk over (3, S, S) inputs once and encode each input's boxes (input pixels)."""
    import torch

    feats: list[list[np.ndarray]] = [[], [], []]
    with torch.no_grad():
        for start in range(0, len(inputs), batch):
            outs = trunk(torch.from_numpy(np.stack(inputs[start : start + batch])))  # type: ignore[operator]
            for store, out in zip(feats, outs):
                store.append(out.numpy().astype(np.float16))
            if progress:
                progress(min(len(inputs), start + batch))
    grid = inputs[0].shape[-1] // STRIDE
    encoded = [encode(b, grid, STRIDE) for b in boxes]
    return FeatureCache(
        *(np.concatenate(f) for f in feats),
        np.stack([e[0] for e in encoded]), np.stack([e[1] for e in encoded]), np.stack([e[2] for e in encoded]),
    )


def _focal(pred_logit: object, heat: object) -> object:
    import torch
    from torch.nn import functional as F

    pos = heat.eq(1).float()  # type: ignore[attr-defined]
    log_p = F.logsigmoid(pred_logit)  # type: ignore[arg-type]
    log_not_p = F.logsigmoid(-pred_logit)  # type: ignore[operator]
    p = torch.sigmoid(pred_logit)  # type: ignore[arg-type]
    pos_loss = -((1 - p) ** FOCAL_ALPHA) * log_p * pos
    neg_loss = -((1 - heat) ** FOCAL_BETA) * (p**FOCAL_ALPHA) * log_not_p * (1 - pos)  # type: ignore[operator]
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def _giou(pred: object, target: object, weight: object) -> object:
    """Weighted GIoU loss between (n, 4, H, W) box maps."""
    import torch

    px0, py0, px1, py1 = pred.unbind(1)  # type: ignore[attr-defined]
    tx0, ty0, tx1, ty1 = target.unbind(1)  # type: ignore[attr-defined]
    inter = (torch.min(px1, tx1) - torch.max(px0, tx0)).clamp(min=0) * (torch.min(py1, ty1) - torch.max(py0, ty0)).clamp(min=0)
    union = (px1 - px0) * (py1 - py0) + (tx1 - tx0) * (ty1 - ty0) - inter
    hull = (torch.max(px1, tx1) - torch.min(px0, tx0)) * (torch.max(py1, ty1) - torch.min(py0, ty0))
    giou = inter / union.clamp(min=1e-6) - (hull - union) / hull.clamp(min=1e-6)
    return ((1 - giou) * weight).sum() / weight.sum().clamp(min=1e-6)  # type: ignore[attr-defined]


def train_tail(tail: object, cache: FeatureCache, *, epochs: int, batch: int = 32, lr: float = 2e-3,
               seed: int = 0, on_epoch: Callable[[int, float], None] | None = None) -> list[float]:
    """Train `tail` on `cache` with AdamW and a cosine schedule; the mean loss of every epoch.

    Horizontal flips of the cached features are a second augmentation on top of the flipped
    images cached by the caller (a flipped feature map is close to, not the same as, the
    features of the flipped image, so both are seen).
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = [p for p in tail.parameters() if p.requires_grad]  # type: ignore[attr-defined]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(cache) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
    grid = cache.heat.shape[-1]
    centres = torch.arange(grid, dtype=torch.float32) * STRIDE + STRIDE / 2
    size = grid * STRIDE
    losses: list[float] = []
    tail.train()  # type: ignore[attr-defined]
    for epoch in range(epochs):
        started, total, count = time.perf_counter(), 0.0, 0
        for idx in np.array_split(rng.permutation(len(cache)), max(1, len(cache) // batch)):
            c3, c4, c5 = (torch.from_numpy(getattr(cache, f)[idx].astype(np.float32)) for f in ("c3", "c4", "c5_in"))
            heat = torch.from_numpy(cache.heat[idx])[:, None]
            target = torch.from_numpy(cache.target[idx])
            weight = torch.from_numpy(cache.weight[idx])
            if rng.random() < 0.5:
                c3, c4, c5, heat, weight = (t.flip(-1) for t in (c3, c4, c5, heat, weight))
                target = target.flip(-1)
                target = torch.stack([size - target[:, 2], target[:, 1], size - target[:, 0], target[:, 3]], 1)
                target = target * (weight[:, None] > 0)
            logit, sides = tail(c3, c4, c5)  # type: ignore[operator]
            xs, ys = centres.view(1, 1, grid), centres.view(1, grid, 1)
            pred = torch.stack([xs - sides[:, 0], ys - sides[:, 1], xs + sides[:, 2], ys + sides[:, 3]], 1)
            loss = _focal(logit, heat) + BOX_LOSS_WEIGHT * _giou(pred, target, weight)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[attr-defined]
            optimiser.step()
            schedule.step()
            total += float(loss) * len(idx)
            count += len(idx)
        losses.append(total / max(1, count))
        log.info("epoch %d: loss %.4f (%.0fs)", epoch + 1, losses[-1], time.perf_counter() - started)
        if on_epoch:
            on_epoch(epoch + 1, losses[-1])
    tail.eval()  # type: ignore[attr-defined]
    return losses
