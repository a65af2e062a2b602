"""Evaluating a detector on photos with true boxes: box recall at IoU 0.5 (at most 20 detections a
photo), AP50, and, when the boxes name products, end-to-end per-box top-1 (the detection matching a
true box is searched, and its first result must be that product) next to true-box top-1 (each
true box's own crop searched: what recognition alone reaches, so the gap between the two is what
the detector costs). Writes a report folder with the figures and pictures of the best and worst
photos, boxes drawn.

The engine supplies what needs a catalogue through the `EvaluationPort`; this module only scores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import write_text
from .annotations import AnnotatedPhoto
from .base import Box, Detection
from .metrics import PhotoScore, match, score_photo, summarise

IOU = 0.5
PICTURES = 3  # best and worst photos drawn in the report


class EvaluationPort(Protocol):
    """What evaluation needs from a catalogue."""

    def detect_all(self, image: Image.Image, max_detections: int) -> list[Detection]:
        """Every detection (no score floor), best first, boxes in `image`'s pixels."""
        ...

    def top_products(self, image: Image.Image, boxes: Sequence[Box]) -> list[str | None]:
        """The first search result's product id for each box's crop (None when nothing is found)."""
        ...


@dataclass
class DetectorReport:
    """The figures of one evaluation (to_dict is what report.json holds)."""

    photos: int
    true_boxes: int
    recall50: float
    ap50: float
    product_boxes: int = 0
    top1: float | None = None  # end-to-end per-box top-1, when boxes carry product ids
    true_box_top1: float | None = None  # the same with each true box's own crop searched (no detector)
    max_detections: int = 20
    best: list[str] = field(default_factory=list)
    worst: list[str] = field(default_factory=list)
    folder: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate_detector(port: EvaluationPort, photos: Sequence[AnnotatedPhoto], load: Callable[[Path], Image.Image],
                      folder: Path | None = None, *, max_detections: int = 20,
                      progress: Callable[[int], None] | None = None) -> DetectorReport:
    """Score `port`'s detector on `photos`; with `folder`, write report.json and pictures there."""
    scored: list[tuple[AnnotatedPhoto, PhotoScore, list[Detection]]] = []
    product_boxes = product_hits = true_box_hits = 0
    for n, photo in enumerate(photos, start=1):
        image = load(photo.path)
        found = port.detect_all(image, max_detections)
        pred = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
        score = score_photo(pred, np.array([d.score for d in found]), np.array(photo.boxes).reshape(-1, 4), IOU)
        scored.append((photo, score, found))
        labelled = [i for i, p in enumerate(photo.products) if p is not None]
        if labelled:
            hits, boxes = _matched(pred, score, photo, labelled)
            tops = port.top_products(image, boxes + [photo.boxes[i] for i in labelled])  # one batch
            product_boxes += len(labelled)
            product_hits += sum(1 for (i, _), top in zip(hits, tops) if top == photo.products[i])
            true_box_hits += sum(1 for i, top in zip(labelled, tops[len(boxes):]) if top == photo.products[i])
        if progress:
            progress(n)
    totals = summarise([s for _, s, _ in scored])
    report = DetectorReport(totals.photos, totals.true_boxes, totals.recall, totals.ap, product_boxes,
                            product_hits / product_boxes if product_boxes else None,
                            true_box_hits / product_boxes if product_boxes else None, max_detections)
    if folder is not None:
        _write(report, scored, load, Path(folder))
    return report


def _matched(pred: np.ndarray, score: PhotoScore, photo: AnnotatedPhoto, labelled: list[int]) -> tuple[list[tuple[int, int]], list[Box]]:
    """(true box index, detection index) of each labelled true box a detection matched, and those detections' boxes."""
    _, truth_to_pred = match(pred, score.scores, np.array(photo.boxes).reshape(-1, 4), IOU)
    pairs = [(i, int(truth_to_pred[i])) for i in labelled if truth_to_pred[i] >= 0]
    return pairs, [tuple(float(v) for v in pred[j]) for _, j in pairs]  # type: ignore[misc]


def _write(report: DetectorReport, scored: list[tuple[AnnotatedPhoto, PhotoScore, list[Detection]]],
           load: Callable[[Path], Image.Image], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # Best: most true boxes found with fewest false alarms; worst: the reverse (photos with boxes only).
    ranked = sorted((s for s in scored if s[1].true_boxes), key=lambda s: (s[1].recall, -(s[1].detections - s[1].found)))
    for name, chosen in (("worst", ranked[:PICTURES]), ("best", ranked[::-1][:PICTURES])):
        for n, (photo, score, found) in enumerate(chosen, start=1):
            picture = draw_boxes(load(photo.path), photo.boxes, found)
            file = f"{name}-{n}.jpg"
            picture.save(folder / file, quality=90)
            getattr(report, name).append(f"{file}: {photo.path.name} ({score.found}/{score.true_boxes} boxes found, "
                                         f"{score.detections - score.found} unmatched detections)")
    report.folder = str(folder)
    write_text(folder / "report.json", json.dumps(report.to_dict(), indent=2) + "\n")


def draw_boxes(image: Image.Image, truth: Sequence[Box], found: Sequence[Detection]) -> Image.Image:
    """The photo with true boxes in green and detections in orange (score written on each)."""
    picture = image.convert("RGB").copy()
    if max(picture.size) < 448:  # small photos are enlarged so that the lines and labels read
        factor = 448 / max(picture.size)
        picture = picture.resize((round(picture.width * factor), round(picture.height * factor)))
    else:
        factor = 1.0
    draw = ImageDraw.Draw(picture)
    for box in truth:
        draw.rectangle([v * factor for v in box], outline=(40, 200, 60), width=3)
    for d in found:
        draw.rectangle([v * factor for v in d.box], outline=(255, 140, 0), width=2)
        draw.text((d.box[0] * factor + 3, d.box[1] * factor + 2), f"{d.score:.2f}", fill=(255, 140, 0))
    return picture
