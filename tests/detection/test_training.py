"""The detector's training recipe at toy scale: cached trunk features, the tail trained until its
loss falls, and the export writing a self-describing ONNX file the detector loads (score
calibration and INT8 decision included)."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.detection.composites import compose
from productlens.detection.export import export_detector
from productlens.detection.fit import FeatureCache, cache_features, train_tail, trunk_runner
from productlens.detection.network import build_parts
from productlens.detection.boxes import letterbox, to_network
from productlens.detection.onnx_detector import OnnxDetector
from tiny import PRODUCTS, product_photo

SIZE = 224


@pytest.fixture(scope="module")
def shelves():
    pictures = [product_photo(p, 40 + n, size=(60, 90)) for n, p in enumerate(PRODUCTS)]
    rng = np.random.default_rng(1)
    made = [compose(pictures, rng, size=(224, 224), max_products=5) for _ in range(24)]
    return [m for m in made if m.boxes]


def test_tail_learns_and_exports_a_detector_file(shelves, tmp_path):
    import torch

    torch.set_num_threads(1)
    trunk, tail = build_parts()
    run_trunk = trunk_runner(trunk, tmp_path, SIZE)
    inputs, targets = [], []
    for shelf in shelves:
        square, fit = letterbox(shelf.image, SIZE)
        inputs.append(to_network(square))
        targets.append(fit.to_input(np.array(shelf.boxes)))
    cache = cache_features(run_trunk, inputs, targets)
    assert isinstance(cache, FeatureCache) and len(cache) == len(shelves)
    assert cache.c3.shape[1:] == (40, 28, 28) and cache.heat.shape[1:] == (28, 28)
    losses = train_tail(tail, cache, epochs=6, batch=8, lr=3e-3)
    assert losses[-1] < 0.6 * losses[0]
    out = tmp_path / "toy.onnx"
    figures = export_detector(trunk, tail, out, [s.image for s in shelves[:8]], [np.array(s.boxes) for s in shelves[:8]],
                              work=tmp_path, input_size=SIZE)
    assert figures["precision"] in ("fp32", "int8") and "recall50" in figures["fp32"]
    detector = OnnxDetector(out)
    assert detector.input_size == SIZE and detector.meta["precision"] == figures["precision"]
    assert detector.meta["platt"] == figures["platt"]
    found = detector.detect(shelves[0].image, max_detections=5, min_score=0.0)
    assert len(found) <= 5 and all(0 <= d.score <= 1 for d in found)
