"""Choosing a run's settings on the catalogue's own validation photos, within a time budget.

Settings tried (any setting given explicitly is kept as given):
  crop        0.875 (the backbones' own), 0.65 (tighter), 1.0 (the whole shorter side); the
              stage stops once two crops score within SAME_SCORE (their time goes to depth)
  backbone    the catalogue's model, then efficientnet-lite2 at 320 px
  head        a hidden layer of 1024 units, or a linear projection
  mirror TTA  off, then on
Each setting is scored by a head trained briefly on the plain view of every photo, on the run's
validation folds: the score is the mean of nearest-image R@1 and classifier top-1 (`val_score`).
Backbone features are computed once per backbone and crop and cached, so trying a head width
costs seconds. The search goes stage by stage, cheapest first: the crop on the catalogue's own
backbone, then the bigger backbone at the best crop, then the head width, then TTA. A setting
that makes every search slower (the bigger backbone, TTA) must win by MIN_GAIN; on a tie the
earlier, cheaper setting stays. A stage runs only if its estimated time fits in what the budget
leaves after the final training is reserved, and every trial (run or skipped, and why) is kept.
When the backbone is adapted afterwards (a default run) only the catalogue's backbone at its own
crop and the head width are tried: each other stage costs a pass over every photo, and that time
buys more as depth and views of the backbone adaptation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import numpy as np

from ..models.registry import get_spec, with_crop
from .data import LabelledSet, Sample
from .port import TrainingPort
from .head_recipe import cached_features, evaluate_embeddings, fit_head, mirror_mean
from .recipes import Recipe, TrainConfig

log = logging.getLogger(__name__)

CROPS = (0.875, 0.65, 1.0)
BIG_BACKBONE = "efficientnet-lite2@320"
HIDDEN = (1024, 0)
MIN_GAIN = 0.01  # what a slower setting must add to the validation score to be chosen
SAME_SCORE = 0.003  # crops scoring this close are alike: the stage stops trying more
SCREEN_EPOCHS = 15
SCREEN_PATIENCE = 4
FINAL_OVERHEAD_S = 45.0  # exporting the version, calibrating and comparing it
RESERVED_VIEWS = 3  # views per photo the final training is sure to get; more if the budget allows
LEFT_FOR_DEPTH = "not tried: its time goes to adapting the backbone (--recipe head searches it)"


@dataclass(frozen=True)
class Setting:
    """What the search chooses; the rest of TrainConfig stays as given."""

    backbone: str
    crop: float
    hidden: int
    tta: bool
    recipe: str = "head"

    def label(self) -> str:
        return f"{self.backbone} crop {self.crop:g}, {'hidden ' + str(self.hidden) if self.hidden else 'linear'} head" \
               + (", mirror TTA" if self.tta else "") + (f", {self.recipe} recipe" if self.recipe != "head" else "")


@dataclass
class Trial:
    """One setting tried (or skipped), with its validation score."""

    stage: str
    setting: Setting
    score: float | None = None
    r1: float | None = None
    top1: float | None = None
    seconds: float = 0.0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "setting": asdict(self.setting), "label": self.setting.label()}


class TimeLimit:
    """Seconds left of a run's time budget (None: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds, self.started = seconds, time.perf_counter()

    def share(self, fraction: float) -> "TimeLimit":
        """A budget of `fraction` of this one's seconds, counted from now (a part of the run)."""
        return TimeLimit(None if self.seconds is None else fraction * max(0.0, self.left()))

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return float("inf") if self.seconds is None else self.seconds - self.elapsed()


class SettingsSearch:
    """Runs the stages of the module docstring for one LabelledSet."""

    def __init__(self, catalog: TrainingPort, data: LabelledSet, config: TrainConfig, time_limit: TimeLimit,
                 progress: Callable[[str], None] | None = None) -> None:
        self.catalog, self.data, self.config, self.time_limit = catalog, data, config, time_limit
        self.say = progress or (lambda _m: None)
        self.trials: list[Trial] = []
        self.seconds_per_image: dict[tuple[str, float], float] = {}  # measured feature extraction speed
        self.fit_seconds = 0.0  # the slowest screening fit measured (all folds, one view, SCREEN_EPOCHS)
        self.photos = data.samples + data.photos

    # --- what the stages try -------------------------------------------------------------------

    def run(self, default: Setting, *, depth_planned: bool = False) -> Setting:
        """The best setting found (`default` where nothing could be compared). With
        `depth_planned` the backbone is adapted after the search (backbone_stage.py): the stages
        that cost a pass over every photo (other crops, the bigger backbone, TTA) are left out and
        recorded as such, their time goes to depth and views."""
        c = self.config
        if self.data.plan.kind == "none":
            self.trials.append(Trial("all", default, note="not searched: no validation photos"))
            return default
        best = self._crops(default, depth_planned)
        if c.backbone is None and BIG_BACKBONE != default.backbone:
            if depth_planned:
                self.trials.append(Trial("backbone", replace(best, backbone=BIG_BACKBONE), note=LEFT_FOR_DEPTH))
            else:
                best = self._stage("backbone", [best, replace(best, backbone=BIG_BACKBONE)], best, slower=True)
        if c.hidden is None:
            best = self._stage("head", [best, *(replace(best, hidden=h) for h in HIDDEN if h != best.hidden)], best)
        if c.flip_tta is None:
            if depth_planned:
                self.trials.append(Trial("tta", replace(best, tta=True), note=LEFT_FOR_DEPTH))
            else:
                best = self._stage("tta", [best, replace(best, tta=True)], best, slower=True)
        return best

    def _crops(self, default: Setting, depth_planned: bool = False) -> Setting:
        """The crop stage, cut short: a crop further from the default is tried only while the last
        one changed the score by more than SAME_SCORE (crops measured alike leave their time to
        the stages that pay)."""
        if self.config.crop:
            return self._stage("crop", [replace(default, crop=self.config.crop)], None)
        if depth_planned:
            best = self._stage("crop", [default], None)
            self.trials += [Trial("crop", replace(default, crop=crop), note=LEFT_FOR_DEPTH) for crop in CROPS
                            if crop != default.crop]
            return best
        best, scores = None, []
        for n, crop in enumerate(CROPS):
            best = self._stage("crop", [replace(default, crop=crop)], best)
            scores.append(self._score_of(replace(default, crop=crop)))
            if len(scores) >= 2 and None not in scores[-2:] and abs(scores[-1] - scores[-2]) <= SAME_SCORE:
                self.trials += [Trial("crop", replace(default, crop=rest),
                                      note=f"not tried: the last two crops scored within {SAME_SCORE}")
                                for rest in CROPS[n + 1:]]
                break
        return best

    def _stage(self, stage: str, settings: list[Setting], incumbent: Setting | None, *, slower: bool = False) -> Setting:
        """Score the stage's settings in order; return the winner (first on ties)."""
        best, best_score = incumbent, self._score_of(incumbent)
        for setting in settings:
            if incumbent is not None and setting == incumbent:
                continue  # tried (or skipped) in an earlier stage
            score = self._score_of(setting)
            if score is None:
                estimate, left, reserve = self._estimate(setting), self.time_limit.left(), self.reserve(best or setting)
                if estimate > left - reserve:
                    self.trials.append(Trial(stage, setting, note=f"skipped: about {estimate:.0f} s, over the time budget "
                                             f"({max(0.0, left):.0f} s left, {reserve:.0f} s of it kept for the final training)"))
                    continue
                score = self._try(stage, setting)
            needed = (MIN_GAIN if slower and setting != incumbent else 0.0) + 1e-9
            if best is None or best_score is None or score > best_score + needed:
                best, best_score = setting, score
        if best is None:  # nothing could be tried: the first setting is used as it is, and says so
            self.trials = [replace(t, note="used untried, " + t.note.removeprefix("skipped: "))
                           if t.stage == stage and t.setting == settings[0] else t for t in self.trials]
            return settings[0]
        return best

    def _score_of(self, setting: Setting | None) -> float | None:
        return next((t.score for t in self.trials if t.setting == setting and t.score is not None), None)

    # --- scoring a setting ------------------------------------------------------------------------

    def _try(self, stage: str, setting: Setting) -> float:
        started = time.perf_counter()
        features = self._features(setting, mirror=False)
        mirrored = self._features(setting, mirror=True) if setting.tta else None
        config = replace(self.config, hidden=setting.hidden, epochs=SCREEN_EPOCHS, patience=SCREEN_PATIENCE)
        fitting = time.perf_counter()
        results = [self._fold_score(train, val, features, mirrored, config) for train, val in self.data.folds()]
        self.fit_seconds = max(self.fit_seconds, time.perf_counter() - fitting)
        r1, top1 = (float(np.mean([r[k] for r in results])) for k in ("val_r1", "val_cls_acc"))
        trial = Trial(stage, setting, 0.5 * (r1 + top1), r1, top1, time.perf_counter() - started)
        self.trials.append(trial)
        self.say(f"tried {setting.label()}: validation {trial.score:.3f} (R@1 {r1:.3f}, top-1 {top1:.3f})")
        return float(trial.score)

    def _features(self, setting: Setting, *, mirror: bool) -> dict[int, np.ndarray]:
        """Plain-view backbone features of every photo, by id(sample) (cached on disk)."""
        spec = with_crop(get_spec(setting.backbone), setting.crop)
        started = time.perf_counter()
        feats, ok = cached_features(self.catalog, self.photos, 1, self.config.seed, self.say,
                                    f"{setting.backbone} crop {setting.crop:g}", spec, mirror=mirror)
        key = (setting.backbone, setting.crop)
        if key not in self.seconds_per_image and not mirror:
            self.seconds_per_image[key] = (time.perf_counter() - started) / max(1, len(self.photos))
        return {id(self.photos[i]): row[0] for i, row in zip(ok, feats)}

    def _fold_score(self, train: list[Sample], val: list[Sample], features: dict[int, np.ndarray],
                    mirrored: dict[int, np.ndarray] | None, config: TrainConfig) -> dict[str, float]:
        data = self.data
        train = [s for s in train if id(s) in features]
        val = [s for s in val if id(s) in features]
        x = np.stack([features[id(s)] for s in train])
        v = np.stack([features[id(s)] for s in val])
        y, vy = data.labels(train), data.labels(val)
        fit = fit_head(x[:, None], y, data.coarse_labels(train), v, vy, config, len(data.classes), len(data.categories))
        if mirrored is None:
            return fit.metrics

        def tta(samples: list[Sample], plain: np.ndarray) -> np.ndarray:
            return mirror_mean(fit, plain, np.stack([mirrored.get(id(s), p) for s, p in zip(samples, plain)]))

        return evaluate_embeddings(tta(val, v), vy, tta(train, x), y, fit.head.proxies.detach().numpy(),
                                   len(data.classes))

    # --- time ---------------------------------------------------------------------------------------

    def _speed(self, backbone: str, crop: float) -> float:
        """Seconds per photo for one plain view: measured, or scaled from a measured backbone by
        the number of input pixels and the backbones' relative cost."""
        if (backbone, crop) in self.seconds_per_image:
            return self.seconds_per_image[(backbone, crop)]
        known = next(iter(self.seconds_per_image.items()), None)
        if known is None:
            return 0.0
        (measured, _), seconds = known
        return seconds * relative_cost(backbone) / relative_cost(measured)

    def _estimate(self, setting: Setting) -> float:
        per_image = self._speed(setting.backbone, setting.crop)
        passes = (0 if (setting.backbone, setting.crop) in self.seconds_per_image else 1) + (1 if setting.tta else 0)
        return passes * per_image * len(self.photos) + 5.0 * max(1, len(self.data.plan.folds))

    def final_estimate(self, setting: Setting, views: int) -> float:
        """Time the final head training of `setting` would take with `views` views per photo: the
        extra views' features, the fits (as the screening fits, scaled by views and epochs; one
        more on every photo after held-out groups), and exporting and comparing the version."""
        per_image = self._speed(setting.backbone, setting.crop)
        features = per_image * (views - 1) * len(self.data.samples)
        folds = max(1, len(self.data.plan.folds))
        fits = (folds + (0 if self.data.plan.kind == "photos" else 1)) / folds  # + the fit on every photo
        fitting = self.fit_seconds * views * max(1.0, self.config.epochs / SCREEN_EPOCHS) * fits
        return features + fitting + FINAL_OVERHEAD_S

    def reserve(self, setting: Setting) -> float:
        """Time kept for the final training of `setting` after the search (RESERVED_VIEWS views;
        views beyond are trained only with what the search leaves)."""
        return self.final_estimate(setting, min(self.config.views, RESERVED_VIEWS))

    def seconds_per_view(self, setting: Setting) -> float:
        """Measured (or scaled) seconds to decode and embed one view of one photo with `setting`."""
        return self._speed(setting.backbone, setting.crop)

    def views_that_fit(self, setting: Setting) -> int:
        """The most views per photo (up to the configured number) whose final training fits in
        what is left of the budget; at least one."""
        left = self.time_limit.left()
        if left == float("inf"):
            return self.config.views
        fitting = [v for v in range(1, self.config.views + 1) if self.final_estimate(setting, v) <= left]
        return max(fitting, default=1)


def relative_cost(backbone: str) -> float:
    """Network work per image relative to efficientnet-lite0 at 224 px (multiply-adds scale with
    the input pixels; lite1 and lite2 do about 1.5x and 2.2x lite0's work at the same size)."""
    spec = get_spec(backbone)
    width = {"efficientnet-lite1": 1.5, "efficientnet-lite2": 2.2}.get(backbone.split("@")[0], 1.0)
    return width * (spec.preprocess.input_size / 224) ** 2
