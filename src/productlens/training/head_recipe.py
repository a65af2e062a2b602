"""The `head` recipe: frozen backbone, cached multi-view features, a trained projection head."""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from ..errors import TrainingError
from ..models import Embedder, create_embedder
from ..models.registry import EmbedderSpec
from .classify import choose_recognition, coarse_validation, knn_class_scores
from .data import LabelledSet, TrainingSource
from .features import FeatureCache, extract_features
from .heads import build_head, combined
from .recipes import Fitted, TrainConfig, backbone_spec, fit_loop

log = logging.getLogger(__name__)


def base_embedder(catalog: TrainingSource, spec: EmbedderSpec | None = None) -> Embedder:
    """An off-the-shelf backbone (fp32): the catalogue's model whatever version is active, or
    `spec` (a registered network, possibly with another crop: it reuses that network's ONNX file)."""
    if spec is None:
        return create_embedder(catalog.model_name, "fp32")
    return Embedder(spec, "fp32", create_embedder(spec.name, "fp32").onnx_path)


def feature_cache(catalog: TrainingSource) -> FeatureCache:
    return FeatureCache(catalog.path / "cache" / "features.sqlite")


def cached_features(catalog: TrainingSource, samples, views: int, seed: int, progress=None, label: str = "",
                    spec: EmbedderSpec | None = None) -> tuple[np.ndarray, list[int]]:
    embedder = base_embedder(catalog, spec)
    cache = feature_cache(catalog)
    try:
        if progress:
            progress(f"features {label}: {len(samples)} images x {views} views")
        return extract_features(embedder, [(s.sha256, s.source) for s in samples], views=views, seed=seed, cache=cache)
    finally:
        cache.close()


def evaluate_embeddings(val_emb: np.ndarray, val_labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray,
                        proxies: np.ndarray | None, n_classes: int) -> dict[str, float]:
    """Validation top-1 of the classifier (proxies) and of nearest-image retrieval (R@1)."""
    out: dict[str, float] = {}
    knn = knn_class_scores(val_emb, gallery, gallery_labels, n_classes)
    out["val_r1"] = float((knn.argmax(1) == val_labels).mean())
    if proxies is not None:
        p = proxies / np.linalg.norm(proxies, axis=1, keepdims=True)
        out["val_cls_acc"] = float(((val_emb @ p.T).argmax(1) == val_labels).mean())
        out["val_score"] = 0.5 * (out["val_r1"] + out["val_cls_acc"])
    return out


def train_head(catalog: TrainingSource, data: LabelledSet, config: TrainConfig,
               progress: Callable[[str], None] | None) -> Fitted:
    import torch

    spec = backbone_spec(config)
    train_feats, ok = cached_features(catalog, data.train, config.views, config.seed, progress, "train", spec)
    train = [data.train[i] for i in ok]
    val_feats, vok = cached_features(catalog, data.val, 1, config.seed, progress, "val", spec) if data.val else (None, [])
    val = [data.val[i] for i in vok]
    if len(train) == 0:
        raise TrainingError("no catalogue image could be decoded for training")
    y, yc = data.labels(train), data.coarse_labels(train)
    vy = data.labels(val)
    n, views, in_dim = train_feats.shape
    torch.manual_seed(config.seed)
    head = build_head(in_dim, config.dim, len(data.classes), len(data.categories), config.hidden, config.dropout)
    x_all = torch.from_numpy(train_feats.reshape(n * views, in_dim))
    y_all = torch.from_numpy(np.repeat(y, views))
    yc_all = torch.from_numpy(np.repeat(yc, views))
    gallery_x = torch.from_numpy(train_feats[:, 0])
    val_x = torch.from_numpy(val_feats[:, 0]) if len(val) else None

    def batches(rng: np.random.Generator):
        order = torch.from_numpy(rng.permutation(len(x_all)))
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            if len(idx) < 2:  # a last batch of one: BatchNorm in the head cannot train on it
                continue
            yield head(x_all[idx]), y_all[idx], yc_all[idx]

    def validate() -> dict[str, float]:
        if val_x is None:
            return {}
        return evaluate_embeddings(head(val_x).numpy(), vy, head(gallery_x).numpy(), y,
                                   head.proxies.detach().numpy(), len(data.classes))

    before = evaluate_embeddings(val_feats[:, 0], vy, train_feats[:, 0], y, None, len(data.classes)) if len(val) else {}
    history = fit_loop(head, list(head.parameters()), config, n * views, batches, validate, progress)
    head.eval()
    with torch.no_grad():
        after = validate()
        recog = choose_recognition(head(val_x).numpy(), vy, head(gallery_x).numpy(), y,
                                   head.proxies.detach().numpy(), config.scale,
                                   coarse_validation(data, val, head.coarse.detach().numpy())) if val_x is not None else \
            {"mode": "blend", "scale": config.scale, "val_top1": {}, "calibration": None}
    metrics: dict[str, Any] = {"val_r1_untrained": before.get("val_r1"), **after,
                               "epochs_run": len(history), "recognition_mode": recog["mode"],
                               "coarse_mode": recog.get("coarse_mode")}
    module = combined(spec.build(), head)
    return Fitted(spec.name, spec.preprocess, module, head, metrics, history, recog)
