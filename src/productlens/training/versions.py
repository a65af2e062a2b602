"""Model versions stored in the catalogue, and switching between them.

A trained version lives in `<catalog>/models/<version>/`:
    model.<precision>.onnx   backbone + head as ONE graph (search stays a single ORT session)
    head.npz                 product and category proxies (the classifier used by recognition)
    version.json             backbone, preprocessing, classes, categories, recipe settings,
                             metrics, recognition mode and calibration
    curves.png, history.json training curves
and is registered in the `models` table (info = {"onnx", "recipe", "metrics", "classifier"}).
Switching to it is the engine's `Catalog.activate_model`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.store import ModelRecord
from ..images import load_image
from ..models.export import export_onnx
from ..models.quantize import quantize_int8
from ..models.registry import EmbedderSpec
from ..models.transforms import prepare
from ..recognition import RECORD
from .curves import save_curves
from .data import LabelledSet, TrainingSource
from .recipes import Fitted, TrainConfig

log = logging.getLogger(__name__)


def save_version(catalog: TrainingSource, fitted: Fitted, data: LabelledSet, config: TrainConfig, *,
                 trials: list[dict[str, Any]] | None = None, comparison: dict[str, Any] | None = None,
                 notes: list[str] | None = None) -> str:
    """Export a fitted recipe as a new version; returns its model key (not activated). The version
    records every candidate setting's score, the comparison with the active model, and which
    photos validated it; its recogniser is stored as its recognition calibration."""
    version = "ft-" + time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while (catalog.models_dir / version).exists():
        suffix += 1
        version = f"ft-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}"
    folder = catalog.models_dir / version
    folder.mkdir(parents=True)
    dim = int(fitted.head.proxies.shape[1])
    preprocess = replace(fitted.preprocess, flip_tta=config.flip_tta)
    spec = EmbedderSpec(fitted.backbone, dim, preprocess, lambda: fitted.module, version)
    onnx = folder / "model.fp32.onnx"
    export_onnx(spec, onnx)
    if config.precision == "int8":
        onnx = _quantize(spec, onnx, data)
    np.savez(folder / "head.npz", proxies=fitted.head.proxies.detach().numpy(),
             coarse=fitted.head.coarse.detach().numpy())
    key = f"{fitted.backbone}/{version}/{config.precision}"
    meta = {
        "key": key, "backbone": fitted.backbone, "version": version, "precision": config.precision, "dim": dim,
        "preprocess": preprocess.to_dict(), "recipe": config.recipe, "config": asdict(config),
        "metrics": fitted.metrics, "classes": data.classes, "categories": data.categories,
        "recognition": fitted.recognition.to_dict(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "validation": {**data.plan.to_dict(), "photos": validation_photos(fitted)},
        "candidates": trials or [], "comparison": comparison, "notes": notes or [],
    }
    (folder / "version.json").write_text(json.dumps(meta, indent=2))
    save_curves(fitted.history, folder)
    rel = onnx.relative_to(catalog.path).as_posix()
    info = {"onnx": rel, "recipe": config.recipe, "metrics": fitted.metrics,
            "classifier": (folder / "head.npz").relative_to(catalog.path).as_posix()}
    catalog.store.add_model(ModelRecord(key, fitted.backbone, version, config.precision, dim,
                                        preprocess.to_dict(), info, meta["created_at"]))
    catalog.store.put_calibration(key, RECORD, fitted.recognition.to_dict(), data.plan.describe())
    log.info("saved model version %s", key)
    return key


def _quantize(spec: EmbedderSpec, fp32: Path, data: LabelledSet) -> Path:
    arrays = []
    for s in data.train[:: max(1, len(data.train) // 128)][:128]:
        try:
            arrays.append(prepare(load_image(s.source).image, spec.preprocess))
        except Exception:  # an unreadable calibration image is simply skipped
            continue
    return quantize_int8(fp32, fp32.with_name("model.int8.onnx"), arrays)


def validation_photos(fitted: Fitted) -> list[dict[str, Any]]:
    """Which photos validated the version, fold by fold: catalogue image ids, or (product, path)
    for photos from outside the catalogue; `models use` compares versions on them again."""
    return [{"image": s.image_id} if s.image_id is not None else {"product": s.product_id, "source": s.source}
            for fold in fitted.folds for s in fold.val]
