"""The partial recipe as what a default `train` spends its time on: after the head recipe (the
fallback, and the score to beat), the deepest cut and the most views whose training fits in the
time left are trained, and kept if they validate better on the same photos.

Time per choice is measured, not guessed from tables: one forward and backward pass of each cut's
tail on a small batch (the tail is what training repeats), and the search's measured seconds per
photo for a view's activations (an upper bound: the front is part of that network).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ..errors import ModelError
from ..models.cut import CUTS
from ..models.efficientnet import trainable_tail
from .candidates import FINAL_OVERHEAD_S, Setting, SettingsSearch, TimeLimit, Trial
from .data import LabelledSet
from .port import TrainingPort
from .heads import build_head
from .partial_recipe import Front, train_partial
from .recipes import PARTIAL_BATCH, PARTIAL_LR, Fitted, TrainConfig, backbone_spec
from .tail import tail_and_head

VIEWS = (4, 3, 2)  # augmented views of activations per photo, most first
EPOCHS = 8  # at most; an epoch shows every photo one of its views (early stopping may end it sooner)
MIN_EPOCHS = 4  # a cut is planned only when this many epochs fit in the time left
PATIENCE = 2
PROBE_BATCH = 16
PROBE_DIM = 1280  # the pooled width of every registered EfficientNet-Lite


def tail_seconds(network: Any, front: Front, config: TrainConfig) -> tuple[float, float]:
    """(training step, embedding) seconds per photo of the tail after `front`'s cut in `network`
    (a `spec.build()` network, only run here), measured on a batch of random activations (the
    second of two passes: the first warms torch up)."""
    import torch

    head = build_head(PROBE_DIM, config.dim, 2, 1, config.hidden, config.dropout)
    model = tail_and_head(trainable_tail(network, front.trained_blocks), head)
    x = torch.randn(PROBE_BATCH, *front.shape)
    step = embed = 0.0
    for _ in range(2):
        started = time.perf_counter()
        model.train()
        model(x).sum().backward()
        step = time.perf_counter() - started
        started = time.perf_counter()
        model.eval()
        with torch.no_grad():
            model(x)
        embed = time.perf_counter() - started
    return step / PROBE_BATCH, embed / PROBE_BATCH


def partial_estimate(data: LabelledSet, view_s: float, step_s: float, embed_s: float, views: int, epochs: int) -> float:
    """Seconds the validated partial recipe takes: the views' activations, the epochs (training,
    and embedding the validation photos and the gallery after each), and exporting and comparing
    the version. The refit on every photo after held-out groups is not planned: it runs only when
    the time left allows it (`refit_seconds`)."""
    photos, n_val = len(data.samples), len(data.photos) + (len(data.val) if data.plan.kind == "groups" else 0)
    extraction = view_s * (photos * views + len(data.photos))
    epoch = step_s * (photos - (n_val if data.plan.kind == "groups" else 0)) + embed_s * (photos + n_val)
    return extraction + epoch * epochs + FINAL_OVERHEAD_S


def refit_seconds(step_s: float, epochs: int, photos: int) -> float:
    """Seconds training again on every photo takes, with exporting and comparing the version after."""
    return step_s * photos * epochs + FINAL_OVERHEAD_S


@dataclass
class DepthPlan:
    """The cut, views and epochs a default run adapts the backbone with, and their measured costs."""

    cut: str
    views: int
    epochs: int
    estimate: float
    step_s: float
    label: str


def plan_depth(catalog: TrainingPort, data: LabelledSet, config: TrainConfig, view_s: float, left: float,
               skipped: Callable[[str], None]) -> DepthPlan | None:
    """The deepest cut, then the most views, that fit MIN_EPOCHS epochs in `left` seconds, planned
    for as many epochs as fit (up to EPOCHS: early stopping ends it sooner when validation stops
    improving). Each choice that does not fit is passed to `skipped`; None when none fits."""
    spec, network, least = backbone_spec(config), None, min(MIN_EPOCHS, EPOCHS)
    for cut in ([config.cut] if config.cut else CUTS):
        front = Front(catalog, spec, cut)  # ModelError: a network without stages to cut at
        network = network or spec.build()
        step_s, embed_s = tail_seconds(network, front, config)
        for views in VIEWS:
            fixed = partial_estimate(data, view_s, step_s, embed_s, views, 0)
            per_epoch = partial_estimate(data, view_s, step_s, embed_s, views, 1) - fixed
            fit = (left - fixed) / per_epoch if per_epoch > 0 else float("inf")
            epochs = EPOCHS if fit >= EPOCHS else max(0, int(fit))
            label = f"{cut} cut ({front.trained_blocks} blocks), {views} views"
            if epochs >= least:
                return DepthPlan(cut, views, epochs, fixed + per_epoch * epochs, step_s, f"{label}, {epochs} epochs")
            skipped(f"{label}: skipped, {least} epochs take about {fixed + per_epoch * least:.0f} s, "
                    f"over the {max(0.0, left):.0f} s left")
    return None


def try_partial(catalog: TrainingPort, data: LabelledSet, head: Fitted, config: TrainConfig,
                search: SettingsSearch, budget: TimeLimit, say: Callable[[str], None]) -> tuple[Fitted, TrainConfig]:
    """The deepest cut and most views that fit in what the budget leaves, trained and kept if it
    validates better than the head recipe; every choice tried or skipped joins the search's trials."""
    setting = Setting(str(config.backbone), float(config.crop), int(config.hidden), False, "partial")
    if data.plan.kind not in ("groups", "photos") or "val_score" not in head.metrics:
        search.trials.append(Trial("recipe", setting, note="not tried: it needs held-out validation photos"))
        return head, config
    base = replace(config, recipe="partial", flip_tta=False, epochs=EPOCHS, patience=PATIENCE, lr=PARTIAL_LR,
                   batch_size=PARTIAL_BATCH)
    view_s = search.seconds_per_view(setting)
    floor = partial_estimate(data, view_s, 0.0, 0.0, min(VIEWS), EPOCHS)  # the fewest views' activations alone
    if floor > budget.left():
        search.trials.append(Trial("depth", setting, note=f"skipped: the activations alone take about {floor:.0f} s, "
                                                          f"over the {max(0.0, budget.left()):.0f} s left"))
        return head, config
    try:
        plan = plan_depth(catalog, data, base, view_s, budget.left(),
                          lambda note: search.trials.append(Trial("depth", setting, note=note)))
    except ModelError as exc:
        search.trials.append(Trial("recipe", setting, note=f"not tried: {exc}"))
        return head, config
    if plan is None:
        return head, config
    say(f"partial recipe: {plan.label}, about {plan.estimate:.0f} s of the {budget.left():.0f} s left")
    started = time.perf_counter()
    refit_note = [""]

    def refit_if(epochs: int, photos: int) -> bool:
        need, left = refit_seconds(plan.step_s, epochs, photos), budget.left()
        refit_note[0] = (f"trained again on every photo for {epochs} epochs" if need <= left else
                         f"kept the validated model: training again on every photo ({epochs} epochs) would take "
                         f"about {need:.0f} s, over the {max(0.0, left):.0f} s left")
        return need <= left

    partial_config = replace(base, cut=plan.cut, views=plan.views, epochs=plan.epochs)
    stop_at = started + budget.left() - FINAL_OVERHEAD_S
    partial = train_partial(catalog, data, partial_config, say, stop_at=stop_at, refit_if=refit_if)
    score = partial.metrics.get("val_score")
    note = "; ".join(n for n in (plan.label, refit_note[0], f"head recipe: {head.metrics['val_score']:.3f}") if n)
    search.trials.append(Trial("depth", setting, score, partial.metrics.get("val_r1"),
                               partial.metrics.get("val_cls_acc"), time.perf_counter() - started, note))
    say(f"tried the partial recipe ({plan.label}): validation {score:.3f} (head recipe {head.metrics['val_score']:.3f})")
    better = score is not None and bool(np.isfinite(score)) and score > head.metrics["val_score"]
    return (partial, partial_config) if better else (head, config)
