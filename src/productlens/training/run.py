"""`train`: one training run on the catalogue's labels, saved as a new (not yet active) model version.

A run (1) splits validation honestly (data.py, split.py: whole burst groups, or cross-validation
over them, or the user's own photos), (2) chooses the settings the user left open on that
validation within the time budget (candidates.py), (3) trains the chosen recipe, (4) compares
the result with the active model on the same photos (compare.py), and (5) saves the version with
every candidate's score, the comparison and the validation plan. Activating it is the engine's
`Catalog.activate_model`, which refuses a version that is not better unless forced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from ..catalog.ingest import IngestItem
from ..errors import TrainingError, UnknownModelError
from ..models.registry import get_spec
from ..pipeline import embed_sources
from .candidates import Budget, Setting, SettingsSearch, Trial
from .classify import classifier_probs
from .compare import Comparison, FoldAnswers, compare, fold_answers, side
from .data import LabelledSet, Sample, TrainingSource, catalogue_samples
from .full_recipe import train_full
from .head_recipe import train_head
from .backbone_stage import try_partial
from .partial_recipe import train_partial
from .recipes import Fitted, FoldResult, TrainConfig
from .stage_clock import AUTO, StageClock, default_budget_s
from .versions import save_version

log = logging.getLogger(__name__)

DEFAULT_BUDGET_S = AUTO  # `train --budget`: 10 to 20 minutes on 2 cores, by catalogue size (stage_clock.py)
HEAD_SHARE = 0.35  # of a default run's budget, for the settings search and the head recipe; the rest adapts the backbone
DEFAULT_HIDDEN = 1024
RECIPES = {"head": train_head, "partial": train_partial, "full": train_full}


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
    catalog: TrainingSource,
    config: TrainConfig | None = None,
    *,
    val_items: list[IngestItem] | None = None,
    budget_s: float | str | None = DEFAULT_BUDGET_S,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train on the catalogue's labels and save a new model version (not activated).

    Settings left as None in `config` (backbone, crop, hidden, flip_tta) are chosen on validation
    within `budget_s` seconds (None: no limit; "auto": by the catalogue's size); given ones are
    used as they are. Without a recipe, the head recipe gets HEAD_SHARE of the budget and the
    partial recipe (backbone adaptation, backbone_stage.py) what is left."""
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
    if budget_s == AUTO:
        budget_s = default_budget_s(len(data.samples))
        say(f"time budget: {budget_s / 60:.1f} min for {len(data.samples)} photos (--budget to change it)")
    clock = StageClock()
    budget = Budget(budget_s)  # type: ignore[arg-type]
    search = SettingsSearch(catalog, data, config, budget.share(HEAD_SHARE) if config.recipe is None else budget, say)
    default = Setting(config.backbone or catalog.model_name, config.crop or 0.875,
                      DEFAULT_HIDDEN if config.hidden is None else config.hidden, bool(config.flip_tta))
    open_settings = None in (config.backbone, config.crop, config.hidden, config.flip_tta)
    with clock.stage("settings search"):
        chosen = search.run(default) if open_settings else default
    views = config.views if not open_settings or budget_s is None else search.views_that_fit(chosen)
    final = replace(config, backbone=chosen.backbone, crop=chosen.crop, hidden=chosen.hidden, flip_tta=chosen.tta,
                    views=views, recipe=config.recipe or "head")
    if open_settings:
        say(f"settings: {chosen.label()}, {views} view(s) per photo")
    with clock.stage(f"{final.recipe} recipe"):
        fitted = RECIPES[final.recipe](catalog, data, final, say)
    if config.recipe is None:
        with clock.stage("partial recipe"):
            fitted, final = try_partial(catalog, data, fitted, final, search, budget, say)
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


def compare_with_active(catalog: TrainingSource, data: LabelledSet, fitted: Fitted) -> Comparison:
    """The new version against the active model on the run's validation folds (compare.py)."""
    active = catalog.active_model
    photos = int(sum(len(f.val) for f in fitted.folds))
    if active is None or not fitted.folds:
        return compare(active.key if active else None, None, None, photos)
    before_recognizer, head = catalog.recognizer()
    before, after = [], []
    for fold in fitted.folds:
        answers = active_answers(catalog, data, fold, head, before_recognizer.scale)
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


def active_answers(catalog: TrainingSource, data: LabelledSet, fold: FoldResult, head: dict | None,
                   scale: float) -> tuple[FoldAnswers, np.ndarray] | None:
    """The active model's embeddings of a fold (stored for catalogue photos, computed for photos
    from outside it), and which of the fold's validation photos it could embed."""
    val = _embeddings(catalog, fold.val)
    gallery = _embeddings(catalog, fold.train)
    kept = np.array([v is not None for v in val], dtype=bool)
    known = [(s, g) for s, g in zip(fold.train, gallery) if g is not None]
    if not kept.any() or not known:
        return None
    answers = fold_answers(data.classes, np.stack([v for v in val if v is not None]),
                           [s.product_id for s, v in zip(fold.val, val) if v is not None],
                           np.stack([g for _, g in known]), [s.product_id for s, _ in known], head, scale)
    return answers, kept


def _embeddings(catalog: TrainingSource, samples: list[Sample]) -> list[np.ndarray | None]:
    """The active model's embedding of each sample (None where it has none)."""
    model = catalog.active_model
    ids = [s.image_id for s in samples if s.image_id is not None]
    found, vectors = catalog.store.embeddings(model.key, ids) if ids else (np.zeros(0, np.int64), None)
    stored = dict(zip(found.tolist(), vectors)) if vectors is not None else {}
    outside = [s for s in samples if s.image_id is None]
    embedded = {id(r.item): r.vector for r in embed_sources(catalog.embedder(), outside, source_of=lambda s: s.source)} \
        if outside else {}
    return [stored.get(s.image_id) if s.image_id is not None else embedded.get(id(s)) for s in samples]
