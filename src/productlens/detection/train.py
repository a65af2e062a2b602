"""One detector training run, shared by scripts/train_detector.py (the shipped model) and
`productlens detector train` (a shop's own): mirror the photos, cache the frozen trunk's features,
train the tail within a time limit, export (calibrated, INT8 when it holds accuracy).

Every stage's duration is measured and returned, so a slow run shows where the time went.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from .boxes import letterbox, to_network
from .export import export_detector
from .fit import FeatureCache, cache_features, train_tail, trunk_runner
from .network import build_parts

log = logging.getLogger(__name__)

INPUT_SIZE = 224
CHUNK = 128  # inputs cached at once: 1,700 float inputs together would take 1.4 GB
Item = TypeVar("Item")


def split_held_out(items: Sequence[Item], fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    """(train, held out): a seeded shuffle, `fraction` of the items (at least one) held out."""
    order = np.random.default_rng(seed).permutation(len(items))
    n_val = max(1, round(len(items) * fraction))
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


def mirror(images: Sequence[Image.Image], boxes: Sequence[np.ndarray]) -> tuple[list[Image.Image], list[np.ndarray]]:
    """The photos flipped left to right, and their boxes with them."""
    flipped = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in images]
    moved = [np.stack([im.width - b[:, 2], b[:, 1], im.width - b[:, 0], b[:, 3]], 1) if len(b) else b.reshape(0, 4)
             for im, b in zip(images, (np.asarray(b, np.float64).reshape(-1, 4) for b in boxes))]
    return flipped, moved


def prepared(images: Sequence[Image.Image], boxes: Sequence[np.ndarray], input_size: int = INPUT_SIZE) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Letterboxed network inputs and their boxes in input pixels."""
    inputs, targets = [], []
    for image, b in zip(images, boxes):
        square, fit = letterbox(image, input_size)
        inputs.append(to_network(square))
        targets.append(fit.to_input(np.asarray(b, np.float64).reshape(-1, 4)))
    return inputs, targets


def train_detector_file(photos: tuple[Sequence[Image.Image], Sequence[np.ndarray]],
                        extra: tuple[Sequence[Image.Image], Sequence[np.ndarray]],
                        validation: tuple[Sequence[Image.Image], Sequence[np.ndarray]], out: Path, *,
                        epochs: int, time_limit_s: float | None, threads: int = 1,
                        trained_on: dict[str, Any] | None = None,
                        on_stage: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Train a detector on `photos` (and their mirror images) plus `extra` (composites, not
    mirrored), validate on `validation`, write it to `out`; the export's figures, the losses and
    each stage's seconds. `time_limit_s` bounds the tail's training (train_tail's rule)."""
    import torch

    torch.set_num_threads(threads)
    seconds: dict[str, float] = {}

    def stage(name: str, started: float) -> None:
        seconds[name] = round(time.perf_counter() - started, 1)
        log.info("%s: %.1f s", name, seconds[name])
        if on_stage:
            on_stage(name, seconds[name])

    t0 = time.perf_counter()
    trunk, tail = build_parts()
    work = Path(tempfile.mkdtemp(prefix="train-detector-"))
    try:
        run_trunk = trunk_runner(trunk, work, INPUT_SIZE, threads)
        stage("network", t0)
        t0 = time.perf_counter()
        parts = []
        for ims, bxs in (photos, mirror(*photos), extra):
            for start in range(0, len(ims), CHUNK):
                parts.append(cache_features(run_trunk, *prepared(ims[start : start + CHUNK], bxs[start : start + CHUNK])))
        cache = FeatureCache.concat(parts)
        del parts
        stage("cache_features", t0)
        t0 = time.perf_counter()
        losses = train_tail(tail, cache, epochs=epochs, seed=0, time_limit_s=time_limit_s)
        del cache
        stage("train", t0)
        t0 = time.perf_counter()
        result = export_detector(trunk, tail, out, *validation, work=work, input_size=INPUT_SIZE,
                                 calibration_images=list(photos[0])[:64], trained_on=trained_on)
        stage("export", t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**result, "input_size": INPUT_SIZE, "losses": [round(x, 4) for x in losses], "seconds": seconds}
