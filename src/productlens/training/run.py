"""`train`: one training run on the catalogue's labels, saved as a new (not yet active) model version."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..catalog.ingest import IngestItem
from ..errors import TrainingError, UnknownModelError
from ..models.registry import get_spec
from .data import TrainingSource, catalogue_samples
from .full_recipe import train_full
from .head_recipe import train_head
from .recipes import TrainConfig
from .versions import save_version

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A finished run: the new version's model key, the settings and what it measured."""

    version: str  # the model key, e.g. efficientnet-lite0/ft-20261123-101500/fp32
    config: TrainConfig
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def train(
    catalog: TrainingSource,
    config: TrainConfig | None = None,
    *,
    val_items: list[IngestItem] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train on the catalogue's labels and save a new model version (not activated)."""
    started = time.perf_counter()
    config = (config or TrainConfig()).resolved()
    config.backbone = config.backbone or catalog.model_name
    try:
        get_spec(config.backbone)
    except UnknownModelError as exc:
        raise TrainingError(str(exc)) from None
    data = catalogue_samples(catalog, val_items, config.val_fraction, config.seed)
    if data.missing:
        log.warning("%d catalogue images have no source file any more and are left out", len(data.missing))
    recipe = train_head if config.recipe == "head" else train_full
    fitted = recipe(catalog, data, config, progress)
    fitted.metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    fitted.metrics["train_images"] = len(data.train)
    fitted.metrics["val_images"] = len(data.val)
    key = save_version(catalog, fitted, data, config)
    return TrainResult(key, config, fitted.metrics, fitted.history, time.perf_counter() - started)
