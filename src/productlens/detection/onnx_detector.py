"""The default detector run by ONNX Runtime: letterbox -> network -> peaks + NMS -> calibrated
scores -> boxes in the photo's pixels.

Everything the file needs to be used (input size, thresholds, score calibration, what it was
trained on) is stored in the ONNX file's own metadata, so a model file is self-describing and a
shop's fine-tuned copy cannot be paired with another file's settings.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DetectorError
from .base import DEFAULT_DETECTOR, Detection, register_detector
from .boxes import letterbox, to_network
from .calibration import Platt
from .decode import decode

METADATA_KEY = "productlens.detector"
SHIPPED_FILE = "shelf-lite0.onnx"


def shipped_path() -> Path:
    """The detector file inside the installed package."""
    return Path(str(resources.files("productlens.detection") / "weights" / SHIPPED_FILE))


class OnnxDetector:
    """A detector file loaded into an ONNX Runtime session (thread-safe: sessions are)."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DetectorError(f"detector file {self.path} is missing: reinstall productlens or train one (scripts/train_detector.py)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            meta = json.loads(self._session.get_modelmeta().custom_metadata_map[METADATA_KEY])
            self.input_size = int(meta["input_size"])
            self.min_score = float(meta["min_score"])
            self.nms_iou = float(meta["nms_iou"])
            self.platt = Platt(**meta.get("platt", {}))
        except DetectorError:
            raise
        except Exception as exc:  # ONNX Runtime raises its own types for damaged files
            raise DetectorError(f"detector file {self.path} is corrupt or not a productlens detector: {str(exc).splitlines()[0][:200]}") from exc
        self.meta: dict[str, Any] = meta
        self.name = str(meta.get("name", DEFAULT_DETECTOR))
        self._input = self._session.get_inputs()[0].name

    def raw(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's (heat (n, H, W), boxes (n, 4, H, W)) for prepared (n, 3, S, S) inputs."""
        heat, boxes = self._session.run(None, {self._input: inputs.astype(np.float32)})
        return heat[:, 0], boxes

    def detect(self, image: Image.Image, *, max_detections: int = 20, min_score: float | None = None) -> list[Detection]:
        """Products in `image` (upright RGB), best first, boxes in its pixels."""
        square, fit = letterbox(image, self.input_size)
        heat, boxes = self.raw(to_network(square)[None])
        found, raw_scores = decode(heat[0], boxes[0], min_score=self.min_score, iou=self.nms_iou, limit=max_detections)
        scores = self.platt(raw_scores)
        floor = 0.0 if min_score is None else min_score
        return [
            Detection((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(s))
            for b, s in zip(fit.to_original(found), scores)
            if s >= floor and b[2] - b[0] >= 1 and b[3] - b[1] >= 1
        ]


_DEFAULT: dict[str, OnnxDetector] = {}
_DEFAULT_LOCK = threading.Lock()


@register_detector(DEFAULT_DETECTOR)
def _shelf_lite0(path: Path | None) -> OnnxDetector:
    """The shipped detector is loaded once per process; a given file is loaded each time."""
    if path is not None:
        return OnnxDetector(path)
    with _DEFAULT_LOCK:
        if "shipped" not in _DEFAULT:
            _DEFAULT["shipped"] = OnnxDetector(shipped_path())
        return _DEFAULT["shipped"]
