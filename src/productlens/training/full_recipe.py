"""The `full` recipe: fine-tune the backbone's last stages with the head, on augmented images.

Images are decoded once into memory (at the model's resize size), then every epoch draws a fresh
augmented view per image (random resized crop, shear, flip, colour jitter). Frozen BatchNorm
statistics stay fixed (small batches on a CPU would make them noisy). CUDA is used when present.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from ..errors import TrainingError
from ..images import load_image
from ..models.efficientnet import trainable_tail
from ..models.transforms import prepare
from ..recognition import Recognizer
from .augment import random_view
from .classify import Replay, choose_recognition
from .data import LabelledSet
from .port import TrainingPort
from .head_recipe import data_categories, evaluate_embeddings
from .heads import build_head, combined
from .recipes import Fitted, FoldResult, TrainConfig, backbone_spec, fit_loop

log = logging.getLogger(__name__)


def _decode_all(samples, size: int):
    images, ok = [], []
    for i, s in enumerate(samples):
        try:
            images.append(load_image(s.source, draft_size=size).image)
            ok.append(i)
        except Exception as exc:  # unusable training image: logged and left out
            log.warning("full recipe skipped %s: %s", s.source, exc)
    return images, ok


def train_full(catalog: TrainingPort, data: LabelledSet, config: TrainConfig,
               progress: Callable[[str], None] | None) -> Fitted:
    import torch
    from torch import nn

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(config.seed)
    spec = backbone_spec(config)
    pre = spec.preprocess
    train = data.train
    if config.max_images and len(train) > config.max_images:
        pick = np.random.default_rng(config.seed).permutation(len(train))[: config.max_images]
        train = [train[i] for i in sorted(pick)]
    images, ok = _decode_all(train, pre.resize_size)
    train = [train[i] for i in ok]
    if not train:
        raise TrainingError("no catalogue image could be decoded for training")
    val_images, vok = _decode_all(data.val, pre.resize_size)
    val = [data.val[i] for i in vok]
    if progress:
        progress(f"full recipe on {device}: {len(train)} train / {len(val)} val images")
    y, yc, vy = data.labels(train), data.coarse_labels(train), data.labels(val)

    backbone = spec.build()
    for p in backbone.parameters():
        p.requires_grad = False
    for module in trainable_tail(backbone, config.unfreeze_blocks):
        for p in module.parameters():
            p.requires_grad = True
    head = build_head(1280, config.dim, len(data.classes), len(data.categories), config.hidden, config.dropout)
    model = combined(backbone, head)

    class Trainable(nn.Module):
        """backbone + head, exposing the head's proxies to the shared loop."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        @property
        def proxies(self):
            return head.proxies

        @property
        def coarse(self):
            return head.coarse

        def train(self, mode: bool = True):
            super().train(mode)
            backbone.eval()  # BatchNorm statistics stay frozen
            if mode:
                head.train()
            return self

    wrapper = Trainable().to(device)
    params = [{"params": [p for p in backbone.parameters() if p.requires_grad], "lr_mult": 0.1},
              {"params": list(head.parameters()), "lr_mult": 1.0}]
    params = [g for g in params if g["params"]]
    y_t, yc_t = torch.from_numpy(y), torch.from_numpy(yc)
    val_x = torch.from_numpy(np.stack([prepare(im, pre) for im in val_images])) if val else None

    def embed(x):
        out = []
        for s in range(0, len(x), 64):
            out.append(model(x[s : s + 64].to(device)).cpu())
        return torch.cat(out).numpy()

    def batches(rng: np.random.Generator):
        order = rng.permutation(len(train))
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            if len(idx) < 2:  # a last batch of one: BatchNorm in the head cannot train on it
                continue
            x = torch.from_numpy(np.stack([random_view(images[i], pre, rng) for i in idx])).to(device)
            yield model(x), y_t[idx].to(device), yc_t[idx].to(device)

    def validate() -> dict[str, Any]:
        if val_x is None:
            return {}
        emb = embed(val_x)
        p = head.proxies.detach().cpu().numpy()
        p = p / np.linalg.norm(p, axis=1, keepdims=True)
        acc = float(((emb @ p.T).argmax(1) == vy).mean())
        return {"val_cls_acc": acc, "val_score": acc}

    history = fit_loop(wrapper, params, config, len(train), batches, validate, progress)
    wrapper.eval()
    model.to("cpu")
    device = "cpu"
    metrics: dict[str, Any] = {"device": "cuda" if torch.cuda.is_available() else "cpu", "epochs_run": len(history)}
    recog = Recognizer(mode="classifier", scale=config.scale)
    folds = []
    with torch.no_grad():
        if val_x is not None:
            gallery_x = torch.from_numpy(np.stack([prepare(im, pre) for im in images]))
            gallery, val_emb = embed(gallery_x), embed(val_x)
            metrics.update(evaluate_embeddings(val_emb, vy, gallery, y, head.proxies.numpy(), len(data.classes)))
            coarse = head.coarse.numpy()[: len(data.categories)] if data.categories else None
            folds = [FoldResult(train, val, Replay(val_emb, vy, gallery, y, head.proxies.numpy(), coarse,
                                                   data.coarse_labels(val)))]
            recog = choose_recognition([f.replay for f in folds], config.scale, data_categories(data),
                                       source=data.plan.describe())
    metrics["recognition_mode"] = recog.mode
    return Fitted(spec.name, pre, model.eval(), head, metrics, history, recog, folds)
