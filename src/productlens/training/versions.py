"""A fitted recipe made ready to be saved as a model version: its network exported to ONNX (and
quantised when asked), its head, and what its version.json records. Where and how the version is
stored, and switching to it, are the engine's (engine/versions.py, reached through the port).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..images import load_image
from ..models.export import export_onnx
from ..models.quantize import quantize_int8
from ..models.registry import EmbedderSpec
from ..models.transforms import prepare
from .data import LabelledSet
from .port import TrainedVersion, TrainingPort
from .recipes import Fitted, TrainConfig

log = logging.getLogger(__name__)


def save_version(catalog: TrainingPort, fitted: Fitted, data: LabelledSet, config: TrainConfig, *,
                 trials: list[dict[str, Any]] | None = None, comparison: dict[str, Any] | None = None,
                 notes: list[str] | None = None) -> str:
    """Export a fitted recipe and have the catalogue save it as a new version; returns its model key
    (not activated). The version records every candidate setting's score, the comparison with the
    active model, and which photos validated it."""
    dim = int(fitted.head.proxies.shape[1])
    preprocess = replace(fitted.preprocess, flip_tta=config.flip_tta)
    spec = EmbedderSpec(fitted.backbone, dim, preprocess, lambda: fitted.module, "export")
    with tempfile.TemporaryDirectory(prefix="productlens-version-") as scratch:
        networks = {"fp32": export_onnx(spec, Path(scratch) / "fp32.onnx")}
        if config.precision == "int8":
            networks["int8"] = _quantize(spec, networks["fp32"], data)
        trained = TrainedVersion(
            fitted.backbone, config.precision, dim, preprocess, networks, fitted.head.proxies.detach().numpy(),
            fitted.head.coarse.detach().numpy(), str(config.recipe), fitted.metrics, fitted.recognition.to_dict(),
            data.plan.describe(), history=fitted.history,
            meta={"backbone": fitted.backbone, "precision": config.precision, "dim": dim,
                  "preprocess": preprocess.to_dict(), "recipe": config.recipe, "config": asdict(config),
                  "metrics": fitted.metrics, "classes": data.classes, "categories": data.categories,
                  "recognition": fitted.recognition.to_dict(),
                  "validation": {**data.plan.to_dict(), "photos": validation_photos(fitted)},
                  "candidates": trials or [], "comparison": comparison, "notes": notes or []})
        key = catalog.save_version(trained)
    log.info("saved model version %s", key)
    return key


def _quantize(spec: EmbedderSpec, fp32: Path, data: LabelledSet) -> Path:
    arrays = []
    for s in data.train[:: max(1, len(data.train) // 128)][:128]:
        try:
            arrays.append(prepare(load_image(s.source).image, spec.preprocess))
        except Exception:  # an unreadable calibration image is simply skipped
            continue
    return quantize_int8(fp32, fp32.with_name("int8.onnx"), arrays)  # scratch names: engine/versions.py files them


def validation_photos(fitted: Fitted) -> list[dict[str, Any]]:
    """Which photos validated the version, fold by fold: catalogue image ids, or (product, path)
    for photos from outside the catalogue; `models use` compares versions on them again."""
    return [{"image": s.image_id} if s.image_id is not None else {"product": s.product_id, "source": s.source}
            for fold in fitted.folds for s in fold.val]
