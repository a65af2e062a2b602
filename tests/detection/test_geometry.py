"""Box geometry, decoding, targets, metrics and score calibration: pure functions checked against
values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from productlens.detection.boxes import iou_matrix, letterbox, nms
from productlens.detection.calibration import fit_platt
from productlens.detection.decode import decode, local_peaks
from productlens.detection.metrics import average_precision, match, score_photo, summarise
from productlens.detection.targets import encode

pytestmark = pytest.mark.fast


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    assert iou_matrix(a, b)[0] == pytest.approx([50 / 150, 0.0, 1.0])


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_ones():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10.5]])
    scores = np.array([0.6, 0.9, 0.5, 0.1])
    assert nms(boxes, scores, 0.5) == [1, 2]
    # IoU(1, 0) = 90/110, IoU(1, 3) = 90/115, IoU(0, 3) = 100/105 = 0.952: only 3 goes at 0.95
    assert nms(boxes, scores, 0.95) == [1, 0, 2]
    assert nms(boxes, scores, 0.95, limit=2) == [1, 0]


def test_letterbox_maps_boxes_back_to_the_photo():
    photo = Image.new("RGB", (400, 200), (255, 0, 0))
    square, fit = letterbox(photo, 100)
    assert square.size == (100, 100) and fit.scale == pytest.approx(0.25) and (fit.dx, fit.dy) == (0, 25)
    assert square.getpixel((50, 10)) == (127, 127, 127) and square.getpixel((50, 50)) == (255, 0, 0)
    boxes = np.array([[40.0, 20.0, 360.0, 180.0]])
    assert fit.to_original(fit.to_input(boxes)) == pytest.approx(boxes)
    assert fit.to_input(boxes)[0] == pytest.approx([10, 30, 90, 70])
    assert fit.to_original(np.array([[-5, 0, 120, 120]]))[0] == pytest.approx([0, 0, 400, 200])  # clipped


def test_decode_finds_peaks_and_suppresses_their_duplicates():
    heat = np.zeros((6, 6))
    heat[1, 1], heat[1, 2], heat[4, 4] = 0.9, 0.8, 0.7  # (1, 2) is no local peak: (1, 1) is larger
    assert local_peaks(heat)[1, 1] and not local_peaks(heat)[1, 2] and local_peaks(heat)[4, 4]
    boxes = np.zeros((4, 6, 6))
    boxes[:, 1, 1] = [0, 0, 20, 20]
    boxes[:, 4, 4] = [30, 30, 45, 45]
    found, scores = decode(heat, boxes, min_score=0.5, iou=0.5, limit=10)
    assert found.tolist() == [[0, 0, 20, 20], [30, 30, 45, 45]] and scores.tolist() == [0.9, 0.7]
    assert len(decode(heat, boxes, min_score=0.8, iou=0.5, limit=10)[0]) == 1


def test_targets_put_a_peak_at_each_centre_and_the_box_under_it():
    heat, target, weight = encode(np.array([[8, 8, 40, 40], [48, 0, 64, 16]]), grid=8, stride=8)
    assert heat[3, 3] == 1.0 and heat[1, 7] == 1.0  # centres (24, 24) and (56, 8)
    assert target[:, 3, 3].tolist() == [8, 8, 40, 40] and target[:, 1, 7].tolist() == [48, 0, 64, 16]
    assert weight[3, 3] > 0 and weight[7, 0] == 0
    assert weight[target[0] == 8].sum() == pytest.approx(np.log(32 * 32), rel=1e-4)  # each box counts log(area)


def test_matching_recall_and_ap_by_hand():
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10]])
    pred = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 60, 60], [20, 0, 30, 9]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    pred_to_truth, truth_to_pred = match(pred, scores, truth)
    assert pred_to_truth.tolist() == [0, -1, -1, 1] and truth_to_pred.tolist() == [0, 3]
    # ranked: hit, miss, miss, hit -> precision 1 at recall 0.5, 0.5 at recall 1: AP = 0.5 * 1 + 0.5 * 0.5
    assert average_precision(scores, pred_to_truth >= 0, 2) == pytest.approx(0.75)
    photo = score_photo(pred, scores, truth)
    empty = score_photo(np.zeros((0, 4)), np.zeros(0), np.array([[0, 0, 5, 5]]))
    total = summarise([photo, empty])
    assert (total.true_boxes, total.recall) == (3, pytest.approx(2 / 3))
    assert total.ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 0.5)  # the missed box caps recall at 2/3


def test_platt_turns_scores_into_probabilities():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.01, 0.99, 4000)
    truth = rng.random(4000) < raw**2  # the true probability is raw squared: raw is over-confident
    platt = fit_platt(raw, truth)
    calibrated = platt(raw)
    for lo in (0.1, 0.4, 0.7):
        band = (raw >= lo) & (raw < lo + 0.2)
        assert calibrated[band].mean() == pytest.approx(truth[band].mean(), abs=0.06)
    assert np.all(np.diff(platt(np.linspace(0.01, 0.99, 50))) > 0)  # monotone: rankings unchanged
