"""eval-detector's two per-box top-1 figures, worked out by hand: end to end (the matching
detection's crop is searched) and with the true boxes (recognition alone), so a shop sees whether
the detector or the recognition loses a product."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from productlens.detection.annotations import AnnotatedPhoto
from productlens.detection.base import Detection
from productlens.detection.evaluate import evaluate_detector

pytestmark = pytest.mark.fast


class LeftIsApple:
    """A stand-in catalogue: its detector finds two of the three products, and its search names
    every crop starting left of x=50 "apple" and every other one "pear"."""

    def __init__(self) -> None:
        self.asked: list[list[tuple[float, ...]]] = []

    def detect_all(self, image: Image.Image, max_detections: int) -> list[Detection]:
        return [Detection((1, 1, 41, 41), 0.9), Detection((61, 0, 100, 40), 0.8)]

    def top_products(self, image: Image.Image, boxes):
        self.asked.append([tuple(b) for b in boxes])
        return ["apple" if b[0] < 50 else "pear" for b in boxes]


def test_end_to_end_and_true_box_top1_by_hand():
    # Three apples: the first found and named right, the second found but named "pear" (a
    # recognition error: its true box is named "pear" too), the third missed by the detector
    # (a detection error: its true box is named right).
    photo = AnnotatedPhoto(Path("shelf.jpg"), [(0, 0, 40, 40), (60, 0, 100, 40), (0, 60, 40, 100)],
                           ["apple", "apple", "apple"])
    port = LeftIsApple()
    report = evaluate_detector(port, [photo], lambda path: Image.new("RGB", (100, 100)))
    assert report.product_boxes == 3 and report.recall50 == pytest.approx(2 / 3)
    assert report.top1 == pytest.approx(1 / 3)
    assert report.true_box_top1 == pytest.approx(2 / 3)
    assert len(port.asked) == 1 and len(port.asked[0]) == 5  # detections and true boxes: one batch


def test_unlabelled_boxes_leave_both_figures_empty():
    photo = AnnotatedPhoto(Path("shelf.jpg"), [(0, 0, 40, 40)], [None])
    report = evaluate_detector(LeftIsApple(), [photo], lambda path: Image.new("RGB", (100, 100)))
    assert report.top1 is None and report.true_box_top1 is None and report.product_boxes == 0
