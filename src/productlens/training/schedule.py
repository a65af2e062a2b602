"""Optimisers by name and a cosine learning-rate schedule with linear warm-up."""

from __future__ import annotations

import math
from typing import Any

OPTIMIZERS = ("sgd", "adam", "adamw")


def make_optimizer(name: str, params: Any, lr: float, weight_decay: float) -> Any:
    import torch

    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; one of {', '.join(OPTIMIZERS)}")


def cosine_lr(step: int, total: int, warmup: int, base: float, floor: float = 0.01) -> float:
    """Linear warm-up to `base` over `warmup` steps, then cosine decay to floor * base."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
