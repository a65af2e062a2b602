"""Fine-tuning the detector for one shop (`productlens detector train`): its own labelled photos
and/or composites of its catalogue pictures, a held-out part to validate on, and the never-worse
rule: the new detector replaces the one in use only when it scores at least as well on the same
held-out photos (and better on one figure), unless forced.

The file is replaced atomically at the very end, so a run killed at any point leaves the previous
detector in place. Training starts from ImageNet EfficientNet-Lite0 with the shipped recipe
(detection/train.py): the shipped detector is INT8 ONNX, whose weights cannot be trained further.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..atomic import atomic_file, write_text
from ..errors import AnnotationError, TrainingError
from .annotations import read_annotations
from .composites import compose, trim_white
from .export import evaluate_file
from .train import split_held_out, train_detector_file

MAX_PICTURES = 400  # catalogue pictures composites are drawn from (each is decoded at 192 px)
EXPORT_SHARE = 0.5  # of the budget left after loading: training gets the other half (export, checks)
Photos = tuple[list[Image.Image], list[np.ndarray]]


@dataclass
class DetectorTraining:
    """What one `detector train` did: figures before and after on the held-out photos, whether
    the new detector was installed (and whether only because it was forced), each stage's time."""

    installed: bool
    forced: bool
    before: dict[str, float]
    after: dict[str, float]
    trained_on: dict[str, Any]
    precision: str
    seconds: dict[str, float] = field(default_factory=dict)
    path: str | None = None

    @property
    def better(self) -> bool:
        return is_better(self.after, self.before)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "better": self.better}


def is_better(after: dict[str, float], before: dict[str, float]) -> bool:
    """Never worse on recall@0.5 or AP50, and better on at least one of them."""
    keys = ("recall50", "ap50")
    return all(after[k] >= before[k] for k in keys) and any(after[k] > before[k] for k in keys)


def load_boxes(path: Path) -> Photos:
    """The photos of an annotation file and their boxes; an unreadable photo names itself."""
    images, boxes = [], []
    for photo in read_annotations(path):
        try:
            with Image.open(photo.path) as im:
                images.append(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise AnnotationError(f"{path}: photo {photo.path} cannot be read ({exc})") from exc
        boxes.append(np.asarray(photo.boxes, np.float64).reshape(-1, 4))
    return images, boxes


def make_composites(pictures: Sequence[Path], n: int, seed: int) -> Photos:
    """`n` synthetic shelf photos of (up to MAX_PICTURES of) the catalogue's pictures."""
    rng = np.random.default_rng(seed)
    chosen = [pictures[i] for i in rng.permutation(len(pictures))[:MAX_PICTURES]]
    loaded = []
    for path in chosen:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                im.thumbnail((192, 192))
                loaded.append(trim_white(im))
        except (OSError, UnidentifiedImageError):
            continue  # a damaged catalogue file is not worth stopping for; fewer pictures remain
    if not loaded:
        raise TrainingError("--composites needs catalogue photos: this catalogue has none that can be read")
    made = [compose(loaded, rng, size=(int(rng.integers(240, 400)), int(rng.integers(240, 400)))) for _ in range(n)]
    made = [m for m in made if m.boxes]
    return [m.image for m in made], [np.asarray(m.boxes, np.float64) for m in made]


def tune_detector(current: Path, target: Path, *, boxes: Path | None = None, pictures: Sequence[Path] = (),
                  composites: int = 0, budget_s: float | None = 900.0, epochs: int = 16, force: bool = False,
                  val_fraction: float = 0.2, seed: int = 0, threads: int = 1,
                  on_stage: Callable[[str, float], None] | None = None) -> DetectorTraining:
    """Train a detector, compare it with the one in `current` on held-out photos, and write it to
    `target` (with `target`.json, the record) when it is better or `force`."""
    if boxes is None and composites <= 0:
        raise TrainingError("nothing to train on: give --boxes FILE and/or --composites N")
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def stage(name: str, value: float) -> None:
        seconds[name] = value
        if on_stage:
            on_stage(name, value)

    trained_on: dict[str, Any] = {"boxes": None if boxes is None else str(boxes), "composites": 0, "seed": seed}
    train: Photos = ([], [])
    extra: Photos = ([], [])
    if boxes is not None:
        images, truth = load_boxes(boxes)
        if len(images) < 2:
            raise AnnotationError(f"{boxes}: needs at least 2 photos (one to train on, one to hold out), found {len(images)}")
        kept, held = split_held_out(list(range(len(images))), val_fraction, seed)
        train = ([images[i] for i in kept], [truth[i] for i in kept])
        val = ([images[i] for i in held], [truth[i] for i in held])
        trained_on.update(photos=len(kept), held_out=len(held))
    if composites > 0:
        extra = make_composites(pictures, composites, seed)
        if boxes is None:  # only synthetic photos: hold some of them out
            kept, held = split_held_out(list(range(len(extra[0]))), val_fraction, seed)
            val = ([extra[0][i] for i in held], [extra[1][i] for i in held])
            extra = ([extra[0][i] for i in kept], [extra[1][i] for i in kept])
            trained_on.update(photos=0, held_out=len(held))
        trained_on["composites"] = len(extra[0])  # the ones trained on
    stage("data", round(time.perf_counter() - started, 1))
    t0 = time.perf_counter()
    scores = evaluate_file(current, *val)
    before = {"recall50": scores.recall, "ap50": scores.ap}
    stage("validate_current", round(time.perf_counter() - t0, 1))
    left = None if budget_s is None else max(1.0, (budget_s - (time.perf_counter() - started)) * (1 - EXPORT_SHARE))
    work = Path(tempfile.mkdtemp(prefix="detector-train-"))
    try:
        candidate = work / "candidate.onnx"
        result = train_detector_file(train, extra, val, candidate, epochs=epochs, time_limit_s=left, threads=threads,
                                     trained_on=trained_on, on_stage=stage)
        t0 = time.perf_counter()
        scores = evaluate_file(candidate, *val)
        after = {"recall50": scores.recall, "ap50": scores.ap}
        stage("validate_new", round(time.perf_counter() - t0, 1))
        report = DetectorTraining(False, False, before, after, trained_on, result["precision"], seconds)
        if report.better or force:
            report.installed, report.forced, report.path = True, not report.better, str(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(target) as tmp:  # the previous detector stays until this rename
                shutil.copyfile(candidate, tmp)
            record = {**report.to_dict(), "losses": result["losses"], "epochs_limit": epochs, "budget_s": budget_s,
                      "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            write_text(target.with_suffix(".json"), json.dumps(record, indent=1, default=str) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds["total"] = round(time.perf_counter() - started, 1)
    return report
