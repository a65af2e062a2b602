"""Training recipes, chosen by name, and the settings and epoch loop they share (`run.py` runs one).

    partial  the backbone's last stages (cut `deep`, `mid` or `shallow`) and the head, trained
             on the front of the network's activations for several augmented views, computed
             once with ONNX Runtime and memory-mapped (partial_recipe.py)

    head  (default) backbone frozen; features of several augmented views per image are computed
          once and cached; a projection head is trained with a proxy loss + category proxies.
    full  the backbone's last stages are fine-tuned too, on augmented images decoded each epoch
          (CUDA when available; on a CPU only worth it for small catalogues or a few epochs).

Both: SGD/Adam/AdamW, cosine schedule with warm-up, weight decay, label smoothing, early
stopping on validation top-1, fixed seeds. The best epoch is saved as a model version.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Callable

import numpy as np

from ..errors import TrainingError
from ..models.cut import CUTS
from ..models.registry import EmbedderSpec, get_spec, with_crop
from ..models.transforms import PreprocessConfig
from ..recognition import Recognizer
from .classify import Replay
from .data import Sample
from .heads import LOSSES, proxy_loss
from .schedule import OPTIMIZERS, cosine_lr, make_optimizer

log = logging.getLogger(__name__)



class Recipe(StrEnum):
    """The training recipes, by how much of the network they train."""

    HEAD = "head"  # frozen backbone, cached features
    PARTIAL = "partial"  # also the backbone's last block, on cached activations
    FULL = "full"  # the backbone's last stages, on images


RECIPES = tuple(r.value for r in Recipe)
# The partial recipe's defaults. A catalogue of ~700 training photos in batches of 128 gave its
# blocks 5 steps an epoch: after 6 epochs validation was far below a head on frozen features.
# Smaller batches give the blocks 4x the steps; a lower rate keeps Adam's per-step moves small
# on pretrained convolutions (it moves every weight by about the rate, whatever its size).
PARTIAL_LR = 1e-3
PARTIAL_BATCH = 32


@dataclass
class TrainConfig:
    """Every setting of a run; saved with the model version.

    backbone, crop, hidden and flip_tta left as None are chosen on the catalogue's own validation
    photos (candidates.py); a value given is used as it is."""

    recipe: str | None = None  # None: head, and partial too when the budget allows (the better one on validation)
    backbone: str | None = None  # the catalogue's model or efficientnet-lite2@320; NAME@SIZE for another input size
    crop: float | None = None  # centre crop kept, as a fraction of the shorter side (0.875: the backbones' own)
    flip_tta: bool | None = None  # the version embeds each image and its mirror (x2 inference per image)
    epochs: int | None = None  # default: 30 (head) / 12 (partial: one view a photo per epoch) / 5 (full)
    optimizer: str = "adamw"
    lr: float | None = None  # default: 3e-3 (head) / 1e-3 (partial; its blocks at TAIL_LR of it) / 3e-4 (full)
    weight_decay: float = 1e-4
    batch_size: int | None = None  # default: 32 (partial: every step adapts the blocks) / 128
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    loss: str = "norm-softmax"
    scale: float = 16.0
    margin: float = 0.2
    dim: int = 512
    hidden: int | None = None  # the head's hidden layer (0: a linear projection)
    dropout: float = 0.1
    coarse_weight: float = 0.5
    views: int = 6  # views per image cached for the head recipe (view 0 = plain centre crop)
    patience: int = 8
    val_fraction: float = 0.15
    unfreeze_blocks: int | None = None  # full recipe: last MBConv blocks trained (default 3), plus the conv head
    cut: str | None = None  # partial recipe: where the network is cut (deep / mid / shallow; models/cut.py)
    max_images: int | None = None  # full recipe: train on a subset (quick CPU runs)
    seed: int = 0
    precision: str = "fp32"

    def resolved(self) -> "TrainConfig":
        if self.recipe is not None and self.recipe not in RECIPES:
            raise TrainingError(f"unknown recipe {self.recipe!r}; one of {', '.join(RECIPES)}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainingError(f"unknown optimizer {self.optimizer!r}; one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise TrainingError(f"unknown loss {self.loss!r}; one of {', '.join(LOSSES)}")
        if self.crop is not None and not 0.2 <= self.crop <= 1.0:
            raise TrainingError(f"crop must be a fraction between 0.2 and 1, not {self.crop}")
        if self.precision not in ("fp32", "int8"):
            raise TrainingError(f"precision must be fp32 or int8, not {self.precision!r}")
        out = TrainConfig(**asdict(self))
        full = self.recipe == "full"
        out.unfreeze_blocks = self.unfreeze_blocks if self.unfreeze_blocks is not None else (3 if full else 1)
        if self.cut is not None and self.cut not in CUTS:
            raise TrainingError(f"unknown cut {self.cut!r}; one of {', '.join(CUTS)}")
        out.epochs = self.epochs if self.epochs is not None else {Recipe.FULL: 5, Recipe.PARTIAL: 12}.get(str(self.recipe), 30)
        out.lr = self.lr if self.lr is not None else {Recipe.FULL: 3e-4, Recipe.PARTIAL: PARTIAL_LR}.get(str(self.recipe), 3e-3)
        out.batch_size = self.batch_size if self.batch_size is not None else \
            (PARTIAL_BATCH if self.recipe == Recipe.PARTIAL else 128)
        if out.epochs < 1 or out.lr <= 0 or out.views < 1 or out.batch_size < 1:
            raise TrainingError("epochs, lr, views and batch_size must be positive")
        return out


def backbone_spec(config: TrainConfig) -> EmbedderSpec:
    """The backbone a run trains on: its registered spec with the run's centre crop."""
    return with_crop(get_spec(str(config.backbone)), config.crop)


@dataclass
class FoldResult:
    """One validation fold of a run: its photos, and what the fold's model made of them."""

    train: list[Sample]
    val: list[Sample]
    replay: Replay  # the fold model's embeddings of `val` and of `train` (the gallery)


@dataclass
class Fitted:
    """What a recipe hands to versions.save_version."""

    backbone: str
    preprocess: PreprocessConfig  # what the version feeds its network (the run's crop included)
    module: Any  # torch module: images -> embeddings (backbone + head), eval mode, on CPU
    head: Any  # the head (proxies, coarse proxies)
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    recognition: Recognizer
    folds: list[FoldResult] = field(default_factory=list)


def fit_loop(
    head: Any,
    params: list,
    config: TrainConfig,
    n_train: int,
    batches: Callable[[np.random.Generator], Any],
    validate: Callable[[], dict[str, float]],
    log_every: Callable[[str], None] | None = None,
    stop_at: float | None = None,
) -> list[dict[str, float]]:
    """The epoch loop shared by the recipes: schedule, early stopping, best-state restore.

    batches(rng) yields (embeddings_fn_output, fine_labels, coarse_labels) per step, where the
    first item is the embeddings tensor with gradient. `stop_at` (a time.perf_counter() value)
    ends training after the epoch that passes it: a budget holds even when the machine slows down.
    """
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    opt = make_optimizer(config.optimizer, params, config.lr, config.weight_decay)
    steps_per_epoch = max(1, -(-n_train // config.batch_size))
    total = steps_per_epoch * config.epochs
    warmup = int(config.warmup_epochs * steps_per_epoch)
    history: list[dict[str, float]] = []
    best, best_state, bad, step = -1.0, None, 0, 0
    for epoch in range(1, config.epochs + 1):
        head.train()
        losses = []
        for emb, fine, coarse in batches(rng):
            for group in opt.param_groups:
                group["lr"] = cosine_lr(step, total, warmup, config.lr) * group.get("lr_mult", 1.0)
            loss, _ = proxy_loss(emb, head.proxies, fine, scale=config.scale, margin=config.margin,
                                 loss=config.loss, label_smoothing=config.label_smoothing)
            known = coarse >= 0
            if config.coarse_weight > 0 and bool(known.any()):
                closs, _ = proxy_loss(emb[known], head.coarse, coarse[known], scale=config.scale, margin=0.0,
                                      loss="norm-softmax", label_smoothing=config.label_smoothing)
                loss = loss + config.coarse_weight * closs
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
        head.eval()
        with torch.no_grad():
            val = validate()
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "lr": cosine_lr(step - 1, total, warmup, config.lr), **val}
        history.append(row)
        log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
        if log_every:
            shown = f" val {val['val_score']:.3f}" if "val_score" in val else " (every photo, no validation)"
            log_every(f"epoch {epoch}/{config.epochs} loss {row['train_loss']:.3f}{shown}")
        score = val.get("val_score", -row["train_loss"])
        if score > best + 1e-4:
            best, bad = score, 0
            best_state = copy.deepcopy({k: v.detach().clone() for k, v in head.state_dict().items()})
        else:
            bad += 1
            if bad >= config.patience:
                log.info("early stop at epoch %d (best val %.4f)", epoch, best)
                break
        if stop_at is not None and time.perf_counter() > stop_at and epoch < config.epochs:
            log.info("stopped at epoch %d: the time budget is spent", epoch)
            if log_every:
                log_every(f"stopped after epoch {epoch}: the time budget is spent")
            break
    if best_state is not None:
        head.load_state_dict(best_state)
    return history
