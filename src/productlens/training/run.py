"""`train`: one training run on the catalogue's labels, saved as a new (not yet active) model version.

A run (1) splits validation honestly (data.py, split.py: whole burst groups, or cross-validation
over them, or the user's own photos), (2) chooses the settings the user left open on that
validation within the time budget (candidates.py), (3) trains the chosen recipe, (4) compares
the result with the active model on the same photos (compare.py), and (5) saves the version with
every candidate's score, the comparison and the validation plan. Activating it is the engine's
`Catalog.versions.activate` (engine/versions.py), which refuses a version that is not better unless forced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..catalog.ingest import IngestItem
from ..errors import ModelError, TrainingError, UnknownModelError
from ..models.registry import get_spec
from .candidates import TimeLimit, Setting, SettingsSearch, Trial
from .classify import classifier_probs
from .compare import Comparison, FoldAnswers, compare, side
from .data import LabelledSet, catalogue_samples
from .port import TrainingPort
from .full_recipe import train_full
from .head_recipe import train_head
from .partial_recipe import train_partial
from .recipes import Fitted, Recipe, TrainConfig
from .versions import save_version

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT_S = 600.0  # `train --budget`: about 10 minutes on 2 cores
DEFAULT_HIDDEN = 1024
TRAINERS = {Recipe.HEAD: train_head, Recipe.PARTIAL: train_partial, Recipe.FULL: train_full}


@dataclass
class TrainResult:
    """A finished run: the new version's model key, the settings and what it measured."""

    version: str  # the model key, e.g. efficientnet-lite0/ft-20261123-101500/fp32
    config: TrainConfig
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    comparison: Comparison | None = None
    trials: list[Trial] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def train(
    catalog: TrainingPort,
    config: TrainConfig | None = None,
    *,
    val_items: list[IngestItem] | None = None,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train on the catalogue's labels and save a new model version (not activated).

    Settings left as None in `config` (backbone, crop, hidden, flip_tta) are chosen on validation
    within `time_limit_s` seconds (None: no limit); given ones are used as they are."""
    started = time.perf_counter()
    say = progress or (lambda _m: None)
    config = (config or TrainConfig()).resolved()
    try:
        get_spec(config.backbone or catalog.model_name)
    except UnknownModelError as exc:
        raise TrainingError(str(exc)) from None
    data = catalogue_samples(catalog, val_items, config.val_fraction, config.seed)
    if data.missing:
        log.warning("%d catalogue images have no source file any more and are left out", len(data.missing))
    notes = list(data.plan.notes)
    for note in notes:
        say(f"validation: {note}")
    time_limit = TimeLimit(time_limit_s)
    search = SettingsSearch(catalog, data, config, time_limit, say)
    default = Setting(config.backbone or catalog.model_name, config.crop or 0.875,
                      DEFAULT_HIDDEN if config.hidden is None else config.hidden, bool(config.flip_tta))
    open_settings = None in (config.backbone, config.crop, config.hidden, config.flip_tta)
    chosen = search.run(default) if open_settings else default
    views = config.views if not open_settings or time_limit_s is None else search.views_that_fit(chosen)
    final = replace(config, backbone=chosen.backbone, crop=chosen.crop, hidden=chosen.hidden, flip_tta=chosen.tta,
                    views=views, recipe=config.recipe or Recipe.HEAD.value)
    if open_settings:
        say(f"settings: {chosen.label()}, {views} view(s) per photo")
    fitted = TRAINERS[Recipe(final.recipe)](catalog, data, final, say)
    if config.recipe is None:
        fitted, final = _try_partial(catalog, data, fitted, final, search, time_limit, say)
    comparison = compare_with_active(catalog, data, fitted)
    notes += comparison.notes
    fitted.metrics.setdefault("train_images", len(data.train))  # the head recipe counts its own (every photo)
    fitted.metrics.update(train_seconds=round(time.perf_counter() - started, 1),
                          val_images=int(sum(len(f.val) for f in fitted.folds)), validation=data.plan.kind)
    key = save_version(catalog, fitted, data, final, trials=[t.to_dict() for t in search.trials],
                       comparison=comparison.to_dict(), notes=notes)
    return TrainResult(key, final, fitted.metrics, fitted.history, time.perf_counter() - started, comparison,
                       search.trials, notes)


def _try_partial(catalog: TrainingPort, data: LabelledSet, head: Fitted, config: TrainConfig,
                 search: SettingsSearch, time_limit: TimeLimit, say: Callable[[str], None]) -> tuple[Fitted, TrainConfig]:
    """The partial recipe as a candidate after the head recipe: kept if it validates better."""
    setting = Setting(str(config.backbone), float(config.crop), int(config.hidden), bool(config.flip_tta), Recipe.PARTIAL.value)
    if data.plan.kind not in ("groups", "photos") or "val_score" not in head.metrics:
        search.trials.append(Trial("recipe", setting, note="not tried: it needs held-out validation photos"))
        return head, config
    estimate = search.partial_estimate(setting)
    if estimate > time_limit.left():
        search.trials.append(Trial("recipe", setting, note=f"skipped: about {estimate:.0f} s, over the time budget"))
        return head, config
    started = time.perf_counter()
    partial_config = replace(config, recipe=Recipe.PARTIAL.value, epochs=12)
    try:
        partial = train_partial(catalog, data, partial_config, say)
    except ModelError as exc:  # a network without MBConv blocks to cut at
        search.trials.append(Trial("recipe", setting, note=f"not tried: {exc}"))
        return head, config
    score = partial.metrics.get("val_score")
    search.trials.append(Trial("recipe", setting, score, partial.metrics.get("val_r1"), partial.metrics.get("val_cls_acc"),
                               time.perf_counter() - started, f"head recipe: {head.metrics['val_score']:.3f}"))
    say(f"tried the partial recipe: validation {score:.3f} (head recipe {head.metrics['val_score']:.3f})")
    return (partial, partial_config) if score is not None and score > head.metrics["val_score"] else (head, config)


def compare_with_active(catalog: TrainingPort, data: LabelledSet, fitted: Fitted) -> Comparison:
    """The new version against the active model on the run's validation folds (compare.py)."""
    active = catalog.active_model
    photos = int(sum(len(f.val) for f in fitted.folds))
    if active is None or not fitted.folds:
        return compare(active.key if active else None, None, None, photos)
    before_recognizer, head = catalog.recognizer()
    before, after = [], []
    for fold in fitted.folds:
        answers = catalog.active_answers(data.classes, fold.val, fold.train, head, before_recognizer.scale)
        if answers is None:
            continue
        answers, kept = answers
        replay = fold.replay
        before.append(answers)
        after.append(FoldAnswers(replay.val_emb[kept], replay.val_labels[kept], replay.gallery, replay.gallery_labels,
                                 classifier_probs(replay.val_emb[kept], replay.proxies, fitted.recognition.scale)))
    if not before:
        return compare(active.key, None, None, 0)
    n = len(data.classes)
    first = fitted.history[0].get("val_score") if fitted.history and data.plan.kind in ("groups", "photos") else None
    return compare(active.key, side(before, before_recognizer, n), side(after, fitted.recognition, n),
                   int(sum(len(a.val_labels) for a in before)), first)
