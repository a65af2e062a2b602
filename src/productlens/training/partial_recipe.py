"""The `partial` recipe: fine-tune the network's last block(s) and the head on cached activations.

The exported network is cut after the block before the ones trained (models/cut.py). ONNX Runtime
runs the front part once per photo and view (the same augmented views as the head recipe) and the
activations are cached as float16 in `<catalog>/cache/activations.sqlite`; torch then trains the
last `unfreeze_blocks` MBConv blocks, the final 1x1 conv and the head on them, with the blocks'
BatchNorm statistics frozen and a tenth of the head's learning rate. An epoch shows each photo one
of its cached views. It adapts the backbone itself at a fraction of the `full` recipe's cost on a
CPU, since the front of the network never runs in torch; whether it beats the head recipe on a
catalogue is for its validation photos to say (run.py compares them when the budget allows).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from ..errors import TrainingError
from ..models.cut import block_outputs, front_graph
from ..models.efficientnet import trainable_tail
from ..models.embedder import open_session
from ..models.export import INPUT_NAME
from .classify import Replay, choose_recognition
from .data import LabelledSet, Sample
from .port import TrainingPort
from .features import FeatureCache, extract_features
from .head_recipe import base_embedder, cached_features, data_categories, evaluate_embeddings
from .heads import build_head, combined, proxy_loss
from .recipes import Fitted, FoldResult, TrainConfig, backbone_spec, fit_loop

log = logging.getLogger(__name__)

TAIL_LR = 0.1  # the trained blocks learn at this fraction of the head's rate
EMBED_BATCH = 128


def train_partial(catalog: TrainingPort, data: LabelledSet, config: TrainConfig,
                  progress: Callable[[str], None] | None) -> Fitted:
    """The partial recipe on the run's held-out validation photos (or none: `config.epochs`)."""
    import torch

    if data.plan.kind == "cross-validation":
        raise TrainingError("the partial recipe validates on held-out photos; with cross-validation use the head "
                            "recipe, or pass --val with labelled photos")
    torch.manual_seed(config.seed)
    spec = backbone_spec(config)
    activations = Activations(catalog, data, spec, config, progress)
    network = spec.build()
    tail = trainable_tail(network, config.unfreeze_blocks)
    head = build_head(1280, config.dim, len(data.classes), len(data.categories), config.hidden, config.dropout)
    model = _TailAndHead.make(tail, head)
    train, val = (data.folds()[0] if data.plan.kind in ("groups", "photos") else (list(data.samples), []))
    train, x = activations.usable(train)
    val, v = activations.usable(val)
    if not train:
        raise TrainingError("no catalogue image could be decoded for training")
    y, yc, vy = data.labels(train), data.coarse_labels(train), data.labels(val)
    y_t, yc_t = torch.from_numpy(y), torch.from_numpy(yc)

    def batches(rng: np.random.Generator):
        order, view = rng.permutation(len(train)), rng.integers(0, x.shape[1], len(train))
        for s in range(0, len(order), config.batch_size):
            idx = order[s: s + config.batch_size]
            if len(idx) < 2:  # a last batch of one: BatchNorm in the head cannot train on it
                continue
            yield model(torch.from_numpy(x[idx, view[idx]].astype(np.float32))), y_t[idx], yc_t[idx]

    def validate() -> dict[str, float]:
        if not val:
            return {}
        val_emb = model.embed(v[:, 0])
        out = evaluate_embeddings(val_emb, vy, model.embed(x[:, 0]), y, head.proxies.detach().numpy(), len(data.classes))
        loss, _ = proxy_loss(torch.from_numpy(val_emb), head.proxies, torch.from_numpy(vy), scale=config.scale,
                             margin=config.margin, loss=config.loss, label_smoothing=0.0)
        return {**out, "val_loss": float(loss.detach())}

    params = [{"params": [p for m in tail for p in m.parameters()], "lr_mult": TAIL_LR},
              {"params": list(head.parameters()), "lr_mult": 1.0}]
    history = fit_loop(model, params, config, len(train), batches, validate, progress)
    model.eval()
    metrics: dict[str, Any] = {**validate(), "epochs_run": len(history), "unfreeze_blocks": config.unfreeze_blocks}
    folds = []
    if val:
        plain = {id(s): row[0] for samples in (train, val)
                 for s, row in zip(samples, cached_features(catalog, samples, 1, config.seed, None, spec=spec)[0])}
        metrics["val_r1_untrained"] = evaluate_embeddings(np.stack([plain[id(s)] for s in val]), vy,
                                                          np.stack([plain[id(s)] for s in train]), y, None,
                                                          len(data.classes))["val_r1"]
        coarse = head.coarse.detach().numpy()[: len(data.categories)] if data.categories else None
        folds = [FoldResult(train, val, Replay(model.embed(v[:, 0]), vy, model.embed(x[:, 0]), y,
                                               head.proxies.detach().numpy(), coarse, data.coarse_labels(val)))]
    recognizer = choose_recognition([f.replay for f in folds], config.scale, data_categories(data),
                                    source=data.plan.describe())
    metrics.update(recognition_mode=recognizer.mode, coarse_mode=recognizer.coarse_mode)
    return Fitted(spec.name, replace(spec.preprocess), combined(network, head), head, metrics, history, recognizer,
                  folds)


class Activations:
    """The front of the network's output for every photo of a run (cached), and what the frozen
    rest of the network makes of it (for the untrained baseline)."""

    def __init__(self, catalog: TrainingPort, data: LabelledSet, spec, config: TrainConfig,
                 progress: Callable[[str], None] | None) -> None:
        embedder = base_embedder(catalog, spec)
        outputs = block_outputs(embedder.onnx_path)
        if not 0 < config.unfreeze_blocks < len(outputs):
            raise TrainingError(f"unfreeze_blocks must be between 1 and {len(outputs) - 1}")
        cut = len(outputs) - config.unfreeze_blocks - 1
        slug = re.sub(r"[^A-Za-z0-9.-]+", "_", embedder.onnx_path.stem)
        front = front_graph(embedder.onnx_path, outputs[cut], catalog.work_dir / f"{slug}.block{cut}.onnx")
        session = open_session(front)
        size = spec.preprocess.input_size
        self.shape = session.run(None, {INPUT_NAME: np.zeros((1, 3, size, size), np.float32)})[0].shape[1:]
        self.embedder = embedder

        def run(batch: np.ndarray) -> np.ndarray:
            (out,) = session.run(None, {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})
            return out.reshape(len(batch), -1).astype(np.float16)

        cache = FeatureCache(catalog.work_dir / "activations.sqlite", np.float16)
        key = f"{embedder.key}#block{cut}"
        self.rows: dict[int, np.ndarray] = {}
        try:
            for samples, views, label in ((data.samples, config.views, "catalogue"), (data.photos, 1, "val")):
                if not samples:
                    continue
                if progress:
                    progress(f"activations {label}: {len(samples)} images x {views} views (after block {cut})")
                flat, ok = extract_features(embedder, [(s.sha256, s.source) for s in samples], views=views,
                                            seed=config.seed, cache=cache, run=run, key=key)
                self.rows.update({id(samples[i]): row.reshape(len(row), *self.shape).astype(np.float16)
                                  for i, row in zip(ok, flat)})
        finally:
            cache.close()

    def usable(self, samples: list[Sample]) -> tuple[list[Sample], np.ndarray]:
        """The samples whose photo could be decoded, and their (n, views, C, H, W) activations."""
        kept = [s for s in samples if id(s) in self.rows]
        return kept, np.stack([self.rows[id(s)] for s in kept]) if kept else np.zeros((0, 1, *self.shape), np.float16)


class _TailAndHead:
    """The trained blocks, the final conv and the head as one torch module over activations."""

    @staticmethod
    def make(tail: list[Any], head: Any) -> Any:
        import torch
        from torch import nn
        from torch.nn import functional as F

        *blocks, conv_head, bn = tail

        class TailAndHead(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.blocks, self.conv_head, self.bn, self.head = nn.ModuleList(blocks), conv_head, bn, head

            @property
            def proxies(self):
                return self.head.proxies

            @property
            def coarse(self):
                return self.head.coarse

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                for block in self.blocks:
                    x = block(x)
                return self.head(F.relu6(self.bn(self.conv_head(x))).mean(dim=(2, 3)))

            def train(self, mode: bool = True):
                super().train(mode)
                for module in (*self.blocks, self.conv_head, self.bn):
                    module.eval()  # BatchNorm statistics stay frozen
                return self

            def embed(self, activations: np.ndarray) -> np.ndarray:
                self.eval()
                with torch.no_grad():
                    return torch.cat([self(torch.from_numpy(activations[s: s + EMBED_BATCH].astype(np.float32)))
                                      for s in range(0, len(activations), EMBED_BATCH)]).numpy()

        return TailAndHead()
