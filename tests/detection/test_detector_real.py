"""The shipped detector on real shelf photos (freiburg-boxes, held-out part of the training
split): its boxes overlap the true ones, and boxes come back in the original photo's pixels for
an EXIF-rotated photo, a crop box, and an enlarged photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from productlens.detection import create_detector
from productlens.detection.boxes import iou_matrix
from productlens.engine.detection import DetectionService

FREIBURG = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "freiburg-boxes"
# Held-out photos (in the validation part of scripts/train_detector.py's seeded split) with 2-6 boxes.
PHOTOS = ["JAM0165.jpg", "SODA0024.jpg", "SUGAR0017.jpg", "CHOCOLATE0295.jpg", "VINEGAR0107.jpg"]


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    if not (FREIBURG / "boxes.json").exists():
        pytest.skip("freiburg-boxes is not beside the checkout")
    entries = json.loads((FREIBURG / "boxes.json").read_text())["images"]
    return {Path(e["file"]).name: np.array(e["boxes"], dtype=float) for e in entries if Path(e["file"]).name in PHOTOS}


def boxes_of(found) -> np.ndarray:
    return np.array([d.box for d in found]).reshape(-1, 4)


def test_boxes_overlap_the_true_ones(truth):
    detector = create_detector()
    found_total = true_total = 0
    for name in PHOTOS:
        image = Image.open(FREIBURG / "images" / name).convert("RGB")
        found = detector.detect(image, max_detections=20)
        assert all(0 <= d.score <= 1 for d in found)
        overlaps = iou_matrix(truth[name], boxes_of(found))
        found_total += int((overlaps.max(axis=1) >= 0.5).sum()) if len(found) else 0
        true_total += len(truth[name])
    assert found_total >= 0.6 * true_total, f"{found_total} of {true_total} true boxes found"


def test_exif_rotated_photo_gives_boxes_in_the_upright_photo(truth, tmp_path):
    upright = Image.open(FREIBURG / "images" / PHOTOS[0]).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    rotated = tmp_path / "rotated.jpg"
    stored.save(rotated, exif=exif, quality=95)
    plain = tmp_path / "plain.jpg"
    upright.save(plain, quality=95)
    service = DetectionService(None, None, None, tmp_path / "no-own-detector.onnx", list)
    from_rotated = boxes_of(service.detect(rotated, min_score=0.3))
    from_plain = boxes_of(service.detect(plain, min_score=0.3))
    assert len(from_plain) >= 1 and len(from_rotated) == len(from_plain)
    assert np.abs(from_rotated - from_plain).max() < 3  # the same boxes, in upright pixels (JPEG noise aside)
    assert from_rotated[:, [0, 2]].max() <= upright.width and from_rotated[:, [1, 3]].max() <= upright.height


def test_crop_box_and_enlarged_photo_map_back_to_original_pixels(truth, tmp_path):
    photo = FREIBURG / "images" / PHOTOS[1]
    service = DetectionService(None, None, None, tmp_path / "no-own-detector.onnx", list)
    crop = (20.0, 10.0, 200.0, 170.0)
    cropped_file = tmp_path / "cropped.png"
    Image.open(photo).convert("RGB").crop(tuple(int(v) for v in crop)).save(cropped_file)
    inside = boxes_of(service.detect(photo, box=crop, min_score=0.3))
    alone = boxes_of(service.detect(cropped_file, min_score=0.3))
    assert len(inside) >= 1 and len(inside) == len(alone)
    assert inside == pytest.approx(alone + [crop[0], crop[1], crop[0], crop[1]], abs=0.01)
    assert inside[:, 0].min() >= crop[0] and inside[:, 2].max() <= crop[2]

    big = tmp_path / "big.png"
    Image.open(photo).convert("RGB").resize((2240, 2240), Image.Resampling.BICUBIC).save(big)
    large = boxes_of(service.detect(big, min_score=0.3))
    small = boxes_of(service.detect(photo, min_score=0.3))
    assert len(large) >= 1
    matched = iou_matrix(large / 10, small).max(axis=1)
    assert (matched > 0.8).mean() >= 0.75  # the same products, boxes scaled to the large photo's pixels
