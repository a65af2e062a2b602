"""Exporting a trained detector to the ONNX file the package ships: torch -> ONNX (fp32), score
calibration on held-out photos, INT8 when it holds accuracy, settings written into the file."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..atomic import atomic_file
from ..models.quantize import quantize_int8
from .boxes import letterbox, to_network
from .calibration import fit_platt
from .metrics import DetectionScores, score_photo, summarise
from .network import full_network
from .onnx_detector import METADATA_KEY, OnnxDetector

log = logging.getLogger(__name__)

INPUT_NAME = "images"  # the name models.quantize feeds calibration batches under
RAW_MIN_SCORE = 0.02  # peaks under this raw score are never boxes
NMS_IOU = 0.5
MAX_DETECTIONS = 20
INT8_TOLERANCE = 0.01  # INT8 is shipped when it loses at most this much AP50 and recall


def export_torch(trunk: Any, tail: Any, path: Path, input_size: int) -> Path:
    """The full network (frozen trunk + trained tail) as fp32 ONNX, dynamic batch."""
    import torch

    net = full_network(trunk, tail)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, input_size, input_size),), str(path),
                          input_names=[INPUT_NAME], output_names=["heat", "boxes"],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, "heat": {0: "batch"}, "boxes": {0: "batch"}},
                          opset_version=17, do_constant_folding=True, dynamo=False)
    return path


def write_with_metadata(source: Path, target: Path, meta: dict[str, Any]) -> Path:
    """Copy the ONNX file `source` to `target` (atomically) with `meta` stored in the file."""
    import onnx

    model = onnx.load(str(source))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as tmp:
        onnx.save(model, str(tmp))
    return target


def _raw_scores(path: Path, images: Sequence[Image.Image], boxes: Sequence[np.ndarray]) -> tuple[DetectionScores, np.ndarray, np.ndarray]:
    """Scores over held-out photos, plus every detection's raw score and whether it matched."""
    detector = OnnxDetector(path)
    photos = []
    for image, truth in zip(images, boxes):
        found = detector.detect(image, max_detections=MAX_DETECTIONS)
        photos.append(score_photo(np.array([d.box for d in found]).reshape(-1, 4), np.array([d.score for d in found]), truth))
    raw = np.concatenate([p.scores for p in photos])
    correct = np.concatenate([p.correct for p in photos])
    return summarise(photos), raw, correct


def evaluate_file(path: Path, images: Sequence[Image.Image], boxes: Sequence[np.ndarray]) -> DetectionScores:
    """Box recall@0.5 and AP50 of a detector file on photos with true boxes."""
    return _raw_scores(path, images, boxes)[0]


def export_detector(trunk: Any, tail: Any, out: Path, val_images: Sequence[Image.Image], val_boxes: Sequence[np.ndarray], *,
                    work: Path, input_size: int, calibration_images: Sequence[Image.Image] = (),
                    trained_on: dict[str, Any] | None = None) -> dict[str, Any]:
    """Export, calibrate, try INT8, write `out`; the figures of both precisions and the choice."""
    meta: dict[str, Any] = {"name": "shelf-lite0", "input_size": input_size, "min_score": RAW_MIN_SCORE,
                            "nms_iou": NMS_IOU, "platt": {"a": 1.0, "b": 0.0}, "trained_on": trained_on or {}}
    fp32 = write_with_metadata(export_torch(trunk, tail, work / "raw.onnx", input_size), work / "fp32.onnx", meta)
    fp32_scores, raw, correct = _raw_scores(fp32, val_images, val_boxes)
    figures: dict[str, Any] = {"fp32": {"recall50": fp32_scores.recall, "ap50": fp32_scores.ap}}
    chosen, chosen_raw, chosen_correct = fp32, raw, correct
    calibration = [to_network(letterbox(im, input_size)[0]) for im in (calibration_images or val_images[:64])]
    try:
        int8 = write_with_metadata(quantize_int8(fp32, work / "int8-raw.onnx", calibration), work / "int8.onnx", meta)
        int8_scores, raw8, correct8 = _raw_scores(int8, val_images, val_boxes)
        figures["int8"] = {"recall50": int8_scores.recall, "ap50": int8_scores.ap}
        if int8_scores.ap >= fp32_scores.ap - INT8_TOLERANCE and int8_scores.recall >= fp32_scores.recall - INT8_TOLERANCE:
            chosen, chosen_raw, chosen_correct = int8, raw8, correct8
    except Exception as exc:  # INT8 is an optimisation: fp32 ships when quantisation fails
        log.warning("INT8 quantisation failed, shipping fp32: %s", exc)
        figures["int8"] = {"error": str(exc)[:200]}
    platt = fit_platt(chosen_raw, chosen_correct)
    meta["platt"] = {"a": platt.a, "b": platt.b}
    meta["precision"] = "int8" if chosen.name.startswith("int8") else "fp32"
    meta["validation"] = figures[meta["precision"]]
    write_with_metadata(chosen, out, meta)
    return {**figures, "precision": meta["precision"], "platt": meta["platt"], "bytes": out.stat().st_size}
