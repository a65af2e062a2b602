"""The `partial` recipe: adapt the backbone's last stages and the head on cached activations.

The exported network is cut at one of its stage boundaries (models/cut.py: `deep`, `mid` or
`shallow`; on Lite0 after blocks 8, 11 or 14). ONNX Runtime runs the front part once per photo
and view (mild random crops and mirrors, augment.crop_view) and the activations are cached as
float16 in a memory-mapped file (activations.py); torch then trains the blocks after the cut,
the final 1x1 conv and the head on them: the blocks at a tenth of the head's learning rate, their
BatchNorm statistics frozen. An epoch shows each photo one of its cached views. Training stops
early on the run's honest validation (held-out burst groups, or --val photos); after held-out
groups the version is trained again on every photo for the epochs validation chose, as the head
recipe does. The version is the whole network (front + adapted tail + head) exported as one
graph, so a query costs what the off-the-shelf network's does.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ..errors import TrainingError
from ..models.cut import CUTS, block_outputs, cut_points, front_graph
from ..models.efficientnet import trainable_tail
from ..models.embedder import open_session
from ..models.export import INPUT_NAME
from ..models.registry import EmbedderSpec
from .activations import cached_activations
from .classify import Replay, choose_recognition
from .data import LabelledSet, Sample
from .port import BackboneSource, TrainingPort
from .head_recipe import base_embedder, cached_features, data_categories, evaluate_embeddings, fit_head
from .heads import build_head, combined, proxy_loss
from .recipes import Fitted, FoldResult, TrainConfig, backbone_spec, fit_loop
from .tail import tail_and_head

log = logging.getLogger(__name__)

TAIL_LR = 0.1  # the trained blocks learn at this fraction of the head's rate
DEFAULT_CUT = "mid"
WARM_START = True  # the head starts fitted on the unadapted network's pooled features (a probe first)
WARM_EPOCHS = 15


class Front:
    """The network up to a cut, as an ONNX Runtime session, and how many blocks follow it."""

    def __init__(self, catalog: BackboneSource, spec: EmbedderSpec, cut: str) -> None:
        embedder = base_embedder(catalog, spec)
        outputs = block_outputs(embedder.onnx_path)
        if cut not in CUTS:
            raise TrainingError(f"unknown cut {cut!r}; one of {', '.join(CUTS)}")
        index = cut_points(embedder.onnx_path)[cut]
        slug = re.sub(r"[^A-Za-z0-9.-]+", "_", embedder.onnx_path.stem)
        path = front_graph(embedder.onnx_path, outputs[index], catalog.work_dir / f"{slug}.block{index}.onnx")
        self.session = open_session(path)
        self.embedder, self.cut, self.index = embedder, cut, index
        self.trained_blocks = len(outputs) - index - 1
        size = spec.preprocess.input_size
        self.shape = self.session.run(None, {INPUT_NAME: np.zeros((1, 3, size, size), np.float32)})[0].shape[1:]
        self.key = f"{embedder.key}#block{index}"

    def run(self, batch: np.ndarray) -> np.ndarray:
        (out,) = self.session.run(None, {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})
        return out


class Activations:
    """Every photo's cached activations (memory-mapped), looked up by sample."""

    def __init__(self, catalog: TrainingPort, data: LabelledSet, front: Front, views: int, seed: int,
                 progress: Callable[[str], None] | None) -> None:
        folder = catalog.work_dir / "activations"
        self.where: dict[int, tuple[np.ndarray, int]] = {}
        self.views = views
        for samples, n, label in ((data.samples, views, "catalogue"), (data.photos, 1, "val")):
            if not samples:
                continue
            if progress:
                progress(f"activations {label}: {len(samples)} images x {n} views (after block {front.index + 1}, "
                         f"{front.trained_blocks} blocks trained)")
            array, ok = cached_activations(folder, front.key, front.embedder, front.run, front.shape,
                                           [(s.sha256, s.source) for s in samples], views=n, seed=seed)
            self.where.update({id(samples[i]): (array, i) for i in ok})

    def usable(self, samples: list[Sample]) -> list[Sample]:
        return [s for s in samples if id(s) in self.where]

    def gather(self, samples: list[Sample], views: np.ndarray | None = None) -> np.ndarray:
        """(n, C, H, W) float32 activations of the samples: view `views[i]` of each (None: view 0)."""
        rows = []
        for n, s in enumerate(samples):
            array, row = self.where[id(s)]
            view = 0 if views is None else min(int(views[n]), array.shape[1] - 1)
            rows.append(array[row, view])
        return np.stack(rows).astype(np.float32)


@dataclass
class TailFit:
    """A tail and head trained on activations, and how they did."""

    model: Any  # TailAndHead
    network: Any  # the whole torch network the tail belongs to
    history: list[dict[str, float]]
    metrics: dict[str, Any]

    @property
    def best_epoch(self) -> int:
        scored = [row for row in self.history if "val_score" in row]
        return max(scored, key=lambda row: row["val_score"])["epoch"] if scored else len(self.history)


def fit_tail(spec: EmbedderSpec, front: Front, acts: Activations, data: LabelledSet, train: list[Sample],
             val: list[Sample], config: TrainConfig, progress: Callable[[str], None] | None,
             stop_at: float | None = None, init_head: Any = None) -> TailFit:
    """Train the blocks after the cut, the conv head and a new head on `train`, early-stopped on
    `val` (none: `config.epochs` epochs) or stopped when `stop_at` (perf_counter) has passed."""
    import torch

    torch.manual_seed(config.seed)
    network = spec.build()
    head = build_head(spec.dim, config.dim, len(data.classes), len(data.categories), config.hidden, config.dropout)
    if init_head is not None:
        head.load_state_dict(init_head.state_dict())
    model = tail_and_head(trainable_tail(network, front.trained_blocks), head)
    y, yc, vy = data.labels(train), data.coarse_labels(train), data.labels(val)
    y_t, yc_t = torch.from_numpy(y), torch.from_numpy(yc)

    def batches(rng: np.random.Generator):
        order, view = rng.permutation(len(train)), rng.integers(0, acts.views, len(train))
        for s in range(0, len(order), config.batch_size):
            idx = order[s: s + config.batch_size]
            if len(idx) < 2:  # a last batch of one: BatchNorm in the head cannot train on it
                continue
            x = torch.from_numpy(acts.gather([train[i] for i in idx], view[idx]))
            yield model(x), y_t[idx], yc_t[idx]

    def validate() -> dict[str, float]:
        if not val:
            return {}
        val_emb = model.embed(acts, val)
        out = evaluate_embeddings(val_emb, vy, model.embed(acts, train), y, head.proxies.detach().numpy(),
                                  len(data.classes))
        loss, _ = proxy_loss(torch.from_numpy(val_emb), head.proxies, torch.from_numpy(vy), scale=config.scale,
                             margin=config.margin, loss=config.loss, label_smoothing=0.0)
        return {**out, "val_loss": float(loss.detach())}

    params = [{"params": model.tail_parameters(), "lr_mult": TAIL_LR},
              {"params": list(head.parameters()), "lr_mult": 1.0}]
    history = fit_loop(model, params, config, len(train), batches, validate, progress, stop_at)
    model.eval()
    return TailFit(model, network, history, validate())


def plain_features(catalog: BackboneSource, spec: EmbedderSpec, samples: list[Sample], seed: int) -> dict[int, np.ndarray]:
    """The unadapted network's pooled features of each sample's plain view, by id(sample) (cached)."""
    feats, ok = cached_features(catalog, samples, 1, seed, None, spec=spec)
    return {id(samples[i]): row[0] for i, row in zip(ok, feats)}


def warm_head(plain: dict[int, np.ndarray], data: LabelledSet, train: list[Sample], val: list[Sample],
              config: TrainConfig) -> Any:
    """A head fitted on the unadapted network's pooled features of `train` (early-stopped on `val`):
    the tail then starts as the head recipe ends, and its first epochs adapt the blocks instead
    of carrying a random head's gradients into them (probe first, then fine-tune)."""
    train, val = [s for s in train if id(s) in plain], [s for s in val if id(s) in plain]
    x = np.stack([plain[id(s)] for s in train])[:, None]
    v = np.stack([plain[id(s)] for s in val]) if val else None
    fit = fit_head(x, data.labels(train), data.coarse_labels(train), v, data.labels(val) if val else None,
                   replace(config, epochs=WARM_EPOCHS, patience=4), len(data.classes), len(data.categories))
    return fit.head


def train_partial(catalog: TrainingPort, data: LabelledSet, config: TrainConfig,
                  progress: Callable[[str], None] | None, *, stop_at: float | None = None,
                  refit_if: Callable[[int, int], bool] | None = None) -> Fitted:
    """The partial recipe on the run's held-out validation photos (or none: `config.epochs`).
    After held-out groups it is trained again on every photo when `refit_if(epochs, photos)`
    says so (None: always); otherwise the validated model is the version (`metrics["refit"]`)."""
    if data.plan.kind == "cross-validation":
        raise TrainingError("the partial recipe validates on held-out photos; with cross-validation use the head "
                            "recipe, or pass --val with labelled photos")
    spec = backbone_spec(config)
    front = Front(catalog, spec, config.cut or DEFAULT_CUT)
    acts = Activations(catalog, data, front, config.views, config.seed, progress)
    validated = data.plan.kind in ("groups", "photos")
    train, val = data.folds()[0] if validated else (list(data.samples), [])
    train, val = acts.usable(train), acts.usable(val)
    if not train:
        raise TrainingError("no catalogue image could be decoded for training")
    plain = plain_features(catalog, spec, train + val, config.seed)
    warm = warm_head(plain, data, train, val, config) if WARM_START else None
    fit = fit_tail(spec, front, acts, data, train, val, config, progress, stop_at, warm)
    metrics: dict[str, Any] = {**fit.metrics, "epochs_run": len(fit.history), "cut": front.cut,
                               "cut_after_block": front.index + 1, "unfreeze_blocks": front.trained_blocks,
                               "views": config.views, "train_images": len(train), "warm_start": WARM_START}
    folds = []
    if val:
        y, vy = data.labels(train), data.labels(val)
        metrics["val_r1_untrained"] = evaluate_embeddings(np.stack([plain[id(s)] for s in val]), vy,
                                                          np.stack([plain[id(s)] for s in train]), y, None,
                                                          len(data.classes))["val_r1"]
        head = fit.model.head
        coarse = head.coarse.detach().numpy()[: len(data.categories)] if data.categories else None
        folds = [FoldResult(train, val, Replay(fit.model.embed(acts, val), vy, fit.model.embed(acts, train), y,
                                               head.proxies.detach().numpy(), coarse, data.coarse_labels(val)))]
    history = fit.history
    everything = acts.usable(data.samples)
    # The held-out groups are training photos too: again on every photo, when there is time for it.
    metrics["refit"] = data.plan.kind == "groups" and (refit_if is None or refit_if(fit.best_epoch, len(everything)))
    if metrics["refit"]:
        if progress:
            progress(f"training again on every photo for the {fit.best_epoch} epochs validation chose")
        warm = warm_head(plain_features(catalog, spec, everything, config.seed), data, everything, [], config) \
            if WARM_START else None
        fit = fit_tail(spec, front, acts, data, everything, [], replace(config, epochs=fit.best_epoch), progress,
                       init_head=warm)
        metrics["train_images"] = len(everything)
    recognizer = choose_recognition([f.replay for f in folds], config.scale, data_categories(data),
                                    source=data.plan.describe())
    metrics.update(recognition_mode=recognizer.mode, coarse_mode=recognizer.coarse_mode)
    return Fitted(spec.name, replace(spec.preprocess), combined(fit.network, fit.model.head), fit.model.head,
                  metrics, history, recognizer, folds)
