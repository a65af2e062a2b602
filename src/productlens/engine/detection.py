"""Detect, then search each product: the engine side of multi-product photos.

The photo is decoded once (large JPEGs at a reduced scale that still leaves every product
enough pixels), the detector finds the products, their crops are embedded in one batch, and each
crop is searched and recognised as `search` and `recognize` would. When nothing is detected the
whole frame is searched instead (as PP-ShiTu does), so a close-up of one product still answers.
Boxes are always in the original photo's pixels, after EXIF orientation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..detection import DEFAULT_DETECTOR, Detection, Detector, create_detector, read_annotations
from ..detection.evaluate import DetectorReport, evaluate_detector
from ..detection.onnx_detector import shipped_path
from ..detection.tuning import DetectorTraining, tune_detector
from ..errors import ModelChangedError
from ..images import ImageSource, load_image
from ..ranking import Box, crop_to_box
from ..results import ObjectResult, ProgressSink
from .active import ActiveModel
from .recognition_service import RecognitionService
from .search import Searcher, Where

DECODE_SIDE = 1024  # JPEGs decode at the smallest DCT scale whose shorter side stays above this
DEFAULT_MIN_SCORE = 0.3  # calibrated: boxes less likely than this to be a product are not shown
MIN_CROP = 8  # pixels: smaller boxes cannot be embedded


class DetectionService:
    """The catalogue's detector (its own fine-tuned file when it has one, else the shipped one)
    and the detect-then-search pipeline."""

    def __init__(self, active: ActiveModel, searcher: Searcher, recognition: RecognitionService, own_file: Path,
                 pictures: Callable[[], list[Path]]) -> None:
        self.active, self.searcher, self.recognition = active, searcher, recognition
        self.own_file = own_file
        self._pictures = pictures  # the catalogue's image files, for composites
        self._lock = threading.Lock()
        self._detector: tuple[float | None, Detector] | None = None

    def detector(self) -> Detector:
        """Loaded once, and again when the catalogue's own file changes (a new `detector train`).
        A missing or corrupt file raises DetectorError; searching whole photos never gets here."""
        stamp = self.own_file.stat().st_mtime if self.own_file.is_file() else None
        with self._lock:
            if self._detector is None or self._detector[0] != stamp:
                path = self.own_file if stamp is not None else None
                self._detector = (stamp, create_detector(DEFAULT_DETECTOR, path))
            return self._detector[1]

    def detect(self, image: ImageSource, *, box: Box | None = None, max_objects: int = 20,
               min_score: float | None = DEFAULT_MIN_SCORE) -> list[Detection]:
        """The products in a photo (or in its `box`), best first, boxes in original pixels."""
        return self._detect(*self._picture(image, box), max_objects, min_score)

    def search_objects(self, image: ImageSource, *, k: int = 5, where: Where = None, box: Box | None = None,
                       max_objects: int = 20, min_score: float | None = DEFAULT_MIN_SCORE) -> list[ObjectResult]:
        """Every detected product searched and recognised (the whole frame when none is found)."""
        picture, scale, origin = self._picture(image, box)
        found = self._detect(picture, scale, origin, max_objects, min_score)
        try:
            return self._search(picture, scale, origin, found, k, where)
        except ModelChangedError:  # another process switched the model mid-query: once more
            return self._search(picture, scale, origin, found, k, where)

    def evaluate(self, boxes: str | Path, folder: str | Path | None = None, *, max_detections: int = 20,
                 progress: ProgressSink | None = None) -> DetectorReport:
        """Box recall@0.5, AP50 and (for boxes naming products) end-to-end per-box top-1 on an
        annotation file (boxes.json, COCO JSON or a Pascal VOC folder); pictures in `folder`."""
        photos, folder = read_annotations(Path(boxes)), None if folder is None else Path(folder)
        advance = None
        if progress is not None:
            progress.start(len(photos), "evaluating the detector")
            advance = lambda n: progress.advance()  # noqa: E731
        return evaluate_detector(_EvaluationAdapter(self), photos, lambda path: load_image(path).image, folder,
                                 max_detections=max_detections, progress=advance)

    def train(self, boxes: str | Path | None = None, *, composites: int = 0, budget_s: float | None = 900.0,
              epochs: int = 16, force: bool = False, on_stage: Callable[[str, float], None] | None = None) -> DetectorTraining:
        """Fine-tune a detector for this catalogue (detection/tuning.py) and install it as its own
        file only when it validates better than the one in use (or `force`)."""
        current = self.own_file if self.own_file.is_file() else shipped_path()
        pictures = self._pictures() if composites else []
        return tune_detector(current, self.own_file, boxes=None if boxes is None else Path(boxes), pictures=pictures,
                             composites=composites, budget_s=budget_s, epochs=epochs, force=force, on_stage=on_stage)

    def _picture(self, image: ImageSource, box: Box | None) -> tuple[Image.Image, float, tuple[float, float]]:
        """(the upright picture to work on, original pixels per its pixel, its origin in the photo)."""
        loaded = load_image(image, draft_size=None if box is not None else DECODE_SIDE)
        picture = loaded.image
        if box is None:
            return picture, loaded.width / picture.width, (0.0, 0.0)
        cropped = crop_to_box(picture, box)
        left, top = _crop_origin(picture, box)
        return cropped, 1.0, (left, top)

    def _detect(self, picture: Image.Image, scale: float, origin: tuple[float, float], max_objects: int,
                min_score: float | None) -> list[Detection]:
        found = self.detector().detect(picture, max_detections=max_objects, min_score=min_score)
        return [Detection(_to_photo(d.box, scale, origin), d.score) for d in found
                if d.box[2] - d.box[0] >= MIN_CROP and d.box[3] - d.box[1] >= MIN_CROP]

    def _search(self, picture: Image.Image, scale: float, origin: tuple[float, float], found: list[Detection],
                k: int, where: Where) -> list[ObjectResult]:
        embedder = self.active.embedder()
        if found:
            crops = [picture.crop(tuple(round(v) for v in _to_picture(d.box, scale, origin))) for d in found]
        else:
            crops = [picture]
        vectors = embedder.embed(crops)
        whole = _to_photo((0.0, 0.0, float(picture.width), float(picture.height)), scale, origin)
        regions = [(d.box, d.score) for d in found] or [(whole, 0.0)]
        return [
            ObjectResult(region, score, self.searcher.vector(vector, k=k, where=where, model_key=embedder.key),
                         self.recognition.recognize_vector(vector, k=k, model_key=embedder.key), not found)
            for (region, score), vector in zip(regions, np.asarray(vectors))
        ]


def _crop_origin(picture: Image.Image, box: Box) -> tuple[float, float]:
    """The top-left corner `crop_to_box` cuts at, in the picture's pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if max(x0, y0, x1, y1) <= 1.0:
        x0, x1, y0, y1 = x0 * picture.width, x1 * picture.width, y0 * picture.height, y1 * picture.height
    return float(round(max(0.0, min(x0, x1)))), float(round(max(0.0, min(y0, y1))))


def _to_photo(box: Box, scale: float, origin: tuple[float, float]) -> Box:
    """A box in the worked-on picture's pixels -> the original photo's pixels."""
    return (box[0] * scale + origin[0], box[1] * scale + origin[1], box[2] * scale + origin[0], box[3] * scale + origin[1])


def _to_picture(box: Box, scale: float, origin: tuple[float, float]) -> Box:
    return ((box[0] - origin[0]) / scale, (box[1] - origin[1]) / scale, (box[2] - origin[0]) / scale,
            (box[3] - origin[1]) / scale)


class _EvaluationAdapter:
    """The detection.evaluate port over this catalogue: its detector, and its search for crops."""

    def __init__(self, service: DetectionService) -> None:
        self.service = service

    def detect_all(self, image: Image.Image, max_detections: int) -> list[Detection]:
        return self.service.detector().detect(image, max_detections=max_detections, min_score=None)

    def top_products(self, image: Image.Image, boxes: list[Box]) -> list[str | None]:
        embedder = self.service.active.embedder()
        vectors = embedder.embed([image.crop(tuple(round(v) for v in b)) for b in boxes])
        tops = [self.service.searcher.vector(v, k=1, model_key=embedder.key) for v in np.asarray(vectors)]
        return [t[0].product.id if t else None for t in tops]
