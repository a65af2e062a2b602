"""The partial recipe as what a default `train` spends its time on: after the head recipe (the
fallback, and the score to beat), the deepest cut and the most views whose training fits in the
time left are trained, and kept if they validate better on the same photos.

Time per choice is measured, not guessed from tables: one forward and backward pass of each cut's
tail on a small batch (the tail is what training repeats), and the search's measured seconds per
photo for a view's activations (an upper bound: the front is part of that network).
"""

from __future__ import annotations

import time
from dataclasses import replace
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
from .recipes import Fitted, TrainConfig, backbone_spec
from .tail import tail_and_head

VIEWS = (4, 3, 2)  # augmented views of activations per photo, most first
EPOCHS = 8  # planned; an epoch shows every photo one of its views (early stopping may end it sooner)
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


def try_partial(catalog: TrainingPort, data: LabelledSet, head: Fitted, config: TrainConfig,
                search: SettingsSearch, budget: TimeLimit, say: Callable[[str], None]) -> tuple[Fitted, TrainConfig]:
    """The deepest cut and most views that fit in what the budget leaves, trained and kept if it
    validates better than the head recipe; every choice tried or skipped joins the search's trials."""
    setting = Setting(str(config.backbone), float(config.crop), int(config.hidden), False, "partial")
    if data.plan.kind not in ("groups", "photos") or "val_score" not in head.metrics:
        search.trials.append(Trial("recipe", setting, note="not tried: it needs held-out validation photos"))
        return head, config
    base = replace(config, recipe="partial", flip_tta=False, epochs=EPOCHS, patience=PATIENCE)
    spec = backbone_spec(base)
    view_s = search.seconds_per_view(setting)
    floor = partial_estimate(data, view_s, 0.0, 0.0, min(VIEWS), EPOCHS)  # the fewest views' activations alone
    if floor > budget.left():
        search.trials.append(Trial("depth", setting, note=f"skipped: the activations alone take about {floor:.0f} s, "
                                                          f"over the {max(0.0, budget.left()):.0f} s left"))
        return head, config
    chosen, network = None, None
    for cut in ([config.cut] if config.cut else CUTS):
        try:
            front = Front(catalog, spec, cut)
        except ModelError as exc:  # a network without stages to cut at
            search.trials.append(Trial("recipe", setting, note=f"not tried: {exc}"))
            return head, config
        network = network or spec.build()
        step_s, embed_s = tail_seconds(network, front, base)
        for views in VIEWS:
            estimate = partial_estimate(data, view_s, step_s, embed_s, views, EPOCHS)
            label = f"{cut} cut ({front.trained_blocks} blocks), {views} views"
            if estimate <= budget.left():
                chosen = (cut, views, label, estimate, step_s)
                break
            search.trials.append(Trial("depth", setting, note=f"{label}: skipped, about {estimate:.0f} s, over the "
                                                                 f"{max(0.0, budget.left()):.0f} s left"))
        if chosen:
            break
    if chosen is None:
        return head, config
    cut, views, label, estimate, step_s = chosen
    say(f"partial recipe: {label}, about {estimate:.0f} s of the {budget.left():.0f} s left")
    started = time.perf_counter()
    refit_note = [""]

    def refit_if(epochs: int, photos: int) -> bool:
        need, left = refit_seconds(step_s, epochs, photos), budget.left()
        refit_note[0] = (f"trained again on every photo for {epochs} epochs" if need <= left else
                         f"kept the validated model: training again on every photo ({epochs} epochs) would take "
                         f"about {need:.0f} s, over the {max(0.0, left):.0f} s left")
        return need <= left

    partial_config = replace(base, cut=cut, views=views)
    stop_at = started + budget.left() - FINAL_OVERHEAD_S
    partial = train_partial(catalog, data, partial_config, say, stop_at=stop_at, refit_if=refit_if)
    score = partial.metrics.get("val_score")
    note = "; ".join(n for n in (label, refit_note[0], f"head recipe: {head.metrics['val_score']:.3f}") if n)
    search.trials.append(Trial("depth", setting, score, partial.metrics.get("val_r1"),
                               partial.metrics.get("val_cls_acc"), time.perf_counter() - started, note))
    say(f"tried the partial recipe ({label}): validation {score:.3f} (head recipe {head.metrics['val_score']:.3f})")
    better = score is not None and bool(np.isfinite(score)) and score > head.metrics["val_score"]
    return (partial, partial_config) if better else (head, config)
