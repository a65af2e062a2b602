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
from ..errors import TrainingError, UnknownModelError
from ..models.registry import get_spec
from .candidates import TimeLimit, Setting, SettingsSearch, Trial
from .classify import classifier_probs
from .compare import Comparison, FoldAnswers, compare, side
from .data import LabelledSet, catalogue_samples
from .port import TrainingPort
from .full_recipe import train_full
from .head_recipe import train_head
from .backbone_stage import try_partial
from .partial_recipe import train_partial
from .recipes import Fitted, Recipe, TrainConfig
from .stage_clock import AUTO, StageClock, default_budget_s
from .versions import save_version

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT_S = AUTO  # `train --budget`: 10 to 20 minutes on 2 cores, by catalogue size (stage_clock.py)
HEAD_SHARE = 0.25  # of a default run's time, for the settings search and the head recipe; the rest adapts the backbone
HEAD_VIEWS_BEFORE_DEPTH = 3  # the head recipe's views when the backbone is adapted after it (a fallback to beat)
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
    time_limit_s: float | str | None = DEFAULT_TIME_LIMIT_S,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train on the catalogue's labels and save a new model version (not activated).

    Settings left as None in `config` (backbone, crop, hidden, flip_tta) are chosen on validation
    within `time_limit_s` seconds (None: no limit; "auto": by the catalogue's size); given ones
    are used as they are. Without a recipe (and with held-out validation photos), a short search
    and the head recipe get HEAD_SHARE of the time and the partial recipe (backbone adaptation,
    backbone_stage.py) what is left."""
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
    if time_limit_s == AUTO:
        time_limit_s = default_budget_s(len(data.samples))
        say(f"time budget: {time_limit_s / 60:.1f} min for {len(data.samples)} photos (--budget to change it)")
    clock = StageClock()
    time_limit = TimeLimit(time_limit_s)  # type: ignore[arg-type]
    depth_planned = config.recipe is None and data.plan.kind in ("groups", "photos")
    search = SettingsSearch(catalog, data, config, time_limit.share(HEAD_SHARE) if depth_planned else time_limit, say)
    default = Setting(config.backbone or catalog.model_name, config.crop or 0.875,
                      DEFAULT_HIDDEN if config.hidden is None else config.hidden, bool(config.flip_tta))
    open_settings = None in (config.backbone, config.crop, config.hidden, config.flip_tta)
    with clock.stage("settings search"):
        chosen = search.run(default, depth_planned=depth_planned) if open_settings else default
    views = config.views if not open_settings or time_limit_s is None else search.views_that_fit(chosen)
    if depth_planned:
        views = min(views, HEAD_VIEWS_BEFORE_DEPTH)
    final = replace(config, backbone=chosen.backbone, crop=chosen.crop, hidden=chosen.hidden, flip_tta=chosen.tta,
                    views=views, recipe=config.recipe or Recipe.HEAD.value)
    if open_settings:
        say(f"settings: {chosen.label()}, {views} view(s) per photo")
    with clock.stage(f"{final.recipe} recipe"):
        fitted = TRAINERS[Recipe(final.recipe)](catalog, data, final, say)
    if config.recipe is None:
        with clock.stage("partial recipe"):
            fitted, final = try_partial(catalog, data, fitted, final, search, time_limit, say)
    with clock.stage("comparison"):
        comparison = compare_with_active(catalog, data, fitted)
    notes += comparison.notes
    fitted.metrics.setdefault("train_images", len(data.train))  # the head recipe counts its own (every photo)
    fitted.metrics.update(train_seconds=round(time.perf_counter() - started, 1),
                          val_images=int(sum(len(f.val) for f in fitted.folds)), validation=data.plan.kind)
    with clock.stage("export"):
        fitted.metrics["stage_seconds"] = clock.seconds  # filled in as the stages end; export's own is added after
        key = save_version(catalog, fitted, data, final, trials=[t.to_dict() for t in search.trials],
                           comparison=comparison.to_dict(), notes=notes)
    say(f"time per stage: {clock.summary()}")
    return TrainResult(key, final, fitted.metrics, fitted.history, time.perf_counter() - started, comparison,
                       search.trials, notes)


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
