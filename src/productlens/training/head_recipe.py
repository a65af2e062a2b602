"""The `head` recipe: frozen backbone, cached multi-view features, a trained projection head.

`fit_head` is the part the settings search (candidates.py) also uses: it trains a head on
features already in memory, so trying another head width or another validation fold costs
seconds, not another pass of the network over the photos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ..errors import TrainingError
from ..models import Embedder, create_embedder
from ..models.registry import EmbedderSpec
from .classify import Replay, choose_recognition, product_similarities
from .data import LabelledSet, Sample
from .port import BackboneSource, TrainingPort
from .features import FeatureCache, extract_features
from .heads import build_head, combined
from .recipes import Fitted, FoldResult, TrainConfig, backbone_spec, fit_loop

log = logging.getLogger(__name__)


def base_embedder(catalog: BackboneSource, spec: EmbedderSpec | None = None) -> Embedder:
    """An off-the-shelf backbone (fp32): the catalogue's model whatever version is active, or
    `spec` (a registered network, possibly with another crop: it reuses that network's ONNX file)."""
    if spec is None:
        return create_embedder(catalog.model_name, "fp32")
    return Embedder(spec, "fp32", create_embedder(spec.name, "fp32").onnx_path)


def feature_cache(catalog: BackboneSource) -> FeatureCache:
    return FeatureCache(catalog.work_dir / "features.sqlite")


def cached_features(catalog: TrainingPort, samples: list[Sample], views: int, seed: int, progress=None,
                    label: str = "", spec: EmbedderSpec | None = None, *,
                    mirror: bool = False) -> tuple[np.ndarray, list[int]]:
    """(n_ok, views, dim) backbone features of the samples (cached), and the indices that worked;
    `mirror`: of the mirror image's plain view instead."""
    embedder = base_embedder(catalog, spec)
    cache = feature_cache(catalog)
    try:
        if progress:
            progress(f"features {label}: {len(samples)} images x {views} views{' (mirrored)' if mirror else ''}")
        return extract_features(embedder, [(s.sha256, s.source) for s in samples], views=views, seed=seed,
                                cache=cache, mirror=mirror)
    finally:
        cache.close()


def evaluate_embeddings(val_emb: np.ndarray, val_labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray,
                        proxies: np.ndarray | None, n_classes: int) -> dict[str, float]:
    """Validation top-1 of the classifier (proxies) and of nearest-image retrieval (R@1)."""
    out: dict[str, float] = {}
    sims = product_similarities(val_emb, gallery, gallery_labels, n_classes)
    out["val_r1"] = float((sims.argmax(1) == val_labels).mean())
    if proxies is not None:
        p = proxies / np.linalg.norm(proxies, axis=1, keepdims=True)
        out["val_cls_acc"] = float(((val_emb @ p.T).argmax(1) == val_labels).mean())
        out["val_score"] = 0.5 * (out["val_r1"] + out["val_cls_acc"])
    return out


@dataclass
class HeadFit:
    """A head trained on features in memory, and how it did."""

    head: Any
    history: list[dict[str, float]]
    metrics: dict[str, Any]  # val_r1, val_cls_acc, val_score of the best epoch (empty without validation)

    @property
    def best_epoch(self) -> int:
        scored = [row for row in self.history if "val_score" in row]
        return max(scored, key=lambda row: row["val_score"])["epoch"] if scored else len(self.history)

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Unit embeddings of (n, dim) backbone features."""
        import torch

        self.head.eval()
        with torch.no_grad():
            return self.head(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))).numpy()


def mirror_mean(fit: HeadFit, plain: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """Mirror TTA, as `Embedder.embed_arrays` does it: the normalised mean of the unit
    embeddings of each photo's plain view and of its mirror image's."""
    mean = fit.embed(plain) + fit.embed(flipped)
    return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def fit_head(train_x: np.ndarray, y: np.ndarray, yc: np.ndarray, val_x: np.ndarray | None, vy: np.ndarray | None,
             config: TrainConfig, n_classes: int, n_categories: int,
             progress: Callable[[str], None] | None = None) -> HeadFit:
    """Train a head on (n, views, dim) features of labelled photos, early-stopped on (m, dim)
    validation features when given (else it runs `config.epochs`)."""
    import torch

    n, views, in_dim = train_x.shape
    torch.manual_seed(config.seed)
    head = build_head(in_dim, config.dim, n_classes, n_categories, config.hidden, config.dropout)
    x_all = torch.from_numpy(np.ascontiguousarray(train_x.reshape(n * views, in_dim), dtype=np.float32))
    y_all, yc_all = torch.from_numpy(np.repeat(y, views)), torch.from_numpy(np.repeat(yc, views))
    gallery_x = torch.from_numpy(np.ascontiguousarray(train_x[:, 0], dtype=np.float32))
    val_t = torch.from_numpy(np.ascontiguousarray(val_x, dtype=np.float32)) if val_x is not None and len(val_x) else None

    def batches(rng: np.random.Generator):
        order = torch.from_numpy(rng.permutation(len(x_all)))
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            if len(idx) < 2:  # a last batch of one: BatchNorm in the head cannot train on it
                continue
            yield head(x_all[idx]), y_all[idx], yc_all[idx]

    def validate() -> dict[str, float]:
        if val_t is None:
            return {}
        return evaluate_embeddings(head(val_t).numpy(), vy, head(gallery_x).numpy(), y,
                                   head.proxies.detach().numpy(), n_classes)

    history = fit_loop(head, list(head.parameters()), config, n * views, batches, validate, progress)
    head.eval()
    with torch.no_grad():
        metrics = validate()
    return HeadFit(head, history, metrics)


def train_head(catalog: TrainingPort, data: LabelledSet, config: TrainConfig,
               progress: Callable[[str], None] | None) -> Fitted:
    """The head recipe over the run's validation plan: held-out burst groups or cross-validation
    folds (validated, then the version is trained on every photo for the epoch count the folds
    stopped at: the median), `--val` photos (the fold's model is the version), or no validation
    (`config.epochs`)."""
    spec = backbone_spec(config)
    features = FoldFeatures(catalog, data, spec, config, progress)
    folds, fits = [], []
    for train, val in data.folds():
        fit, result = features.fit_fold(train, val)
        fits.append(fit)
        folds.append(result)
    if data.plan.kind == "photos":  # the validation photos are not the catalogue's: nothing was held out
        final, learned_from = fits[0], len(folds[0].train)
    else:  # the held-out groups are training photos too: train again on every photo, as long as validation said
        epochs = int(np.median([f.best_epoch for f in fits])) if fits else config.epochs
        final = features.fit_all(replace(config, epochs=max(1, epochs)))
        learned_from = len(features.usable(data.samples)[0])
    history = fits[0].history if data.plan.kind in ("groups", "photos") else final.history  # curves with validation
    recognizer = choose_recognition([f.replay for f in folds], config.scale, data_categories(data),
                                    source=data.plan.describe())
    metrics: dict[str, Any] = {**_mean([f.metrics for f in fits]), "epochs_run": len(final.history),
                               "train_images": learned_from,
                               "recognition_mode": recognizer.mode, "coarse_mode": recognizer.coarse_mode}
    module = combined(spec.build(), final.head)
    return Fitted(spec.name, replace(spec.preprocess), module, final.head, metrics, history, recognizer, folds)


def data_categories(data: LabelledSet) -> np.ndarray | None:
    """The category index of each product column (-1: none), or None without categories."""
    return np.array([data.category_of.get(p, -1) for p in data.classes]) if data.categories else None


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for row in rows for k in row}
    return {k: float(np.mean([row[k] for row in rows if k in row])) for k in sorted(keys)}


class FoldFeatures:
    """Backbone features of a run's photos (computed once, cached), and heads fitted on them."""

    def __init__(self, catalog: TrainingPort, data: LabelledSet, spec: EmbedderSpec, config: TrainConfig,
                 progress: Callable[[str], None] | None) -> None:
        self.data, self.config, self.progress = data, config, progress
        feats, ok = cached_features(catalog, data.samples, config.views, config.seed, progress, "catalogue", spec)
        if not ok:
            raise TrainingError("no catalogue image could be decoded for training")
        self.rows = {id(data.samples[i]): row for i, row in zip(ok, feats)}
        if data.photos:
            photo_feats, photo_ok = cached_features(catalog, data.photos, 1, config.seed, progress, "val", spec)
            self.rows.update({id(data.photos[i]): row for i, row in zip(photo_ok, photo_feats)})
        self.mirrored: dict[int, np.ndarray] = {}
        if config.flip_tta:  # the version will embed photos and their mirror images: validate it so
            everything = data.samples + data.photos
            flipped, flipped_ok = cached_features(catalog, everything, 1, config.seed, progress, "mirrored", spec,
                                                  mirror=True)
            self.mirrored = {id(everything[i]): row[0] for i, row in zip(flipped_ok, flipped)}

    def usable(self, samples: list[Sample]) -> tuple[list[Sample], np.ndarray]:
        """The samples whose photo could be decoded, and their (n, views, dim) features."""
        kept = [s for s in samples if id(s) in self.rows]
        dim = next(iter(self.rows.values())).shape[-1]
        return kept, np.stack([self.rows[id(s)] for s in kept]) if kept else np.zeros((0, 1, dim), np.float32)

    def fit_fold(self, train: list[Sample], val: list[Sample]) -> tuple[HeadFit, FoldResult]:
        """A head fitted on `train`, early-stopped on `val`, with the fold's embeddings."""
        data, config = self.data, self.config
        train, x = self.usable(train)
        val, v = self.usable(val)
        y, vy = data.labels(train), data.labels(val)
        fit = fit_head(x, y, data.coarse_labels(train), v[:, 0], vy, config, len(data.classes),
                       len(data.categories), self.progress)
        fit.metrics["val_r1_untrained"] = evaluate_embeddings(v[:, 0], vy, x[:, 0], y, None, len(data.classes))["val_r1"]
        coarse = fit.head.coarse.detach().numpy()[: len(data.categories)] if data.categories else None
        replay = Replay(self.embed(fit, val, v[:, 0]), vy, self.embed(fit, train, x[:, 0]), y,
                        fit.head.proxies.detach().numpy(), coarse, data.coarse_labels(val))
        return fit, FoldResult(train, val, replay)

    def embed(self, fit: HeadFit, samples: list[Sample], plain: np.ndarray) -> np.ndarray:
        """What the version will embed for these photos: the plain view, or with mirror TTA the
        normalised mean of the photo's and its mirror image's embeddings."""
        if not self.mirrored:
            return fit.embed(plain)
        return mirror_mean(fit, plain, np.stack([self.mirrored.get(id(s), p) for s, p in zip(samples, plain)]))

    def fit_all(self, config: TrainConfig) -> HeadFit:
        """A head fitted on every photo for `config.epochs` (no validation to stop on)."""
        data = self.data
        samples, x = self.usable(data.samples)
        return fit_head(x, data.labels(samples), data.coarse_labels(samples), None, None, config, len(data.classes),
                        len(data.categories), self.progress)
