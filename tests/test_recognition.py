"""Recognition arithmetic (recognition.py), against hand-computed values."""

import numpy as np
import pytest

from productlens.recognition import (Calibration, OperatingPoint, Recognizer, calibrate, candidate_scores,
                                     category_vote, choose_threshold, default_calibration, features, fit_logistic,
                                     softmax, threshold_at, top_features)

pytestmark = pytest.mark.fast


def test_threshold_separates_separable_confidences():
    t = choose_threshold(np.array([0.9, 0.85, 0.8]), np.array([True] * 3), np.array([0.5, 0.6, 0.7]))
    assert 0.7 < t <= 0.8


def test_threshold_balances_overlap():
    # right: 0.6, 0.8, 0.9; unknown: 0.5, 0.7 -> accepting {0.8, 0.9} and rejecting both unknowns is best
    t = choose_threshold(np.array([0.6, 0.8, 0.9]), np.array([True, True, True]), np.array([0.5, 0.7]))
    assert 0.7 < t <= 0.8


def test_wrong_known_answers_count_as_answers_to_reject():
    """A known photo whose top product is wrong should be turned away like an unknown one."""
    t = choose_threshold(np.array([0.95, 0.9, 0.6]), np.array([False, False, True]), np.array([0.3]))
    assert 0.3 < t <= 0.6


def test_logistic_fit_orders_and_separates():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0.8, 0.05, 200), rng.normal(0.6, 0.05, 200)][:, None]
    w = fit_logistic(x, np.r_[np.ones(200), np.zeros(200)])
    p = 1 / (1 + np.exp(-(np.array([0.9, 0.7, 0.5]) * w[0] + w[1])))
    assert w[0] > 0 and p[0] > 0.9 and p[2] < 0.1 and p[1] == pytest.approx(0.5, abs=0.15)


def test_calibrate_gives_probabilities_and_rates():
    known = features([0.9, 0.85, 0.4], [0.2, 0.15, 0.01], [0.9, 0.8, 0.3])
    unknown = features([0.5, 0.45, 0.3], [0.02, 0.03, 0.01], [0.3, 0.35, 0.2])
    cal = calibrate(known, np.array([True, True, False]), unknown, "test")
    confidence = cal.confidence(np.concatenate([known, unknown]))
    assert np.all((confidence > 0) & (confidence < 1))
    assert confidence[0] > confidence[3] and confidence[1] > confidence[4]
    assert cal.known_accept_rate == 1.0 and cal.unknown_reject_rate == 1.0
    assert cal.top1_accuracy == pytest.approx(2 / 3) and cal.source == "test"
    assert len(cal.curve) == 21 and cal.curve[0][1] == 1.0 and cal.curve[-1][2] == 1.0


def test_calibrate_needs_right_and_wrong_answers():
    rows = features([0.9], [0.1], [0.9])
    with pytest.raises(ValueError):
        calibrate(rows, np.array([True]), np.zeros((0, 3)), "all right")


def test_default_confidence_is_the_recognisers_own_share():
    cal = default_calibration()
    assert not cal.fitted and cal.threshold == 0.5
    assert cal.confidence(features(0.3, 0.0, 0.9))[0] > 0.9 and cal.confidence(features(0.9, 0.2, 0.1))[0] < 0.1


def test_knn_scores_are_a_softmax_of_cosines():
    sims = np.array([0.9, 0.8, 0.5])
    assert np.allclose(candidate_scores(sims, "knn"), softmax(sims / 0.05))


def test_a_product_added_after_training_keeps_its_nearest_image_share():
    """Candidates: trained A (classifier 0.9), trained B (0.1), and C added after training (NaN).
    The classifier shares out only the nearest-image mass of the products it knows."""
    sims = np.array([0.80, 0.70, 0.85])
    knn = softmax(sims / 0.05)
    classifier = np.array([0.9, 0.1, np.nan])
    scores = candidate_scores(sims, "classifier", classifier)
    trained_mass = knn[0] + knn[1]
    assert scores == pytest.approx([0.9 * trained_mass, 0.1 * trained_mass, knn[2]])
    assert scores.sum() == pytest.approx(1.0)
    assert int(np.argmax(scores)) == 2  # not forced into a trained class
    blend = candidate_scores(sims, "blend", classifier)
    assert blend == pytest.approx(0.5 * (scores + knn))


def test_with_only_trained_candidates_the_classifier_decides():
    sims = np.array([0.9, 0.88])
    scores = candidate_scores(sims, "classifier", np.array([0.2, 0.6]))
    assert scores == pytest.approx([0.25, 0.75])


def test_top_features_give_similarity_margin_and_share():
    best, row = top_features(np.array([0.7, 0.9, 0.6]), np.array([0.1, 0.8, 0.1]))
    assert best == 1 and row == pytest.approx([0.9, 0.2, 0.8])
    _, alone = top_features(np.array([0.7]), np.array([1.0]))
    assert alone[1] == 1.0


def test_category_vote_weighs_candidates_by_score():
    assert category_vote(["Milk", "Juice", "Milk"], np.array([0.3, 0.6, 0.1])) == ("Juice", pytest.approx(0.6))
    assert category_vote([None, None], np.array([0.5, 0.5])) == (None, 0.0)


def test_a_recognizer_round_trips_and_ignores_a_cosine_threshold_from_before():
    fitted = Calibration([1.0, 2.0, 3.0, -1.0], 0.4, "photos", 10, 10)
    recognizer = Recognizer(mode="blend", calibration=fitted, knn_calibration=fitted, coarse_mode="both")
    again = Recognizer.from_dict(recognizer.to_dict())
    assert again == recognizer
    legacy = Recognizer.from_dict({"mode": "blend", "calibration": {"threshold": 0.7, "slope": 6.0, "intercept": -5.0}})
    assert legacy.mode == "blend" and not legacy.calibration.fitted and legacy.knn_calibration is None
    assert again.calibration_for(trained_winner=False) is again.knn_calibration


def test_operating_point_rejects_the_share_of_unknowns_asked_for():
    # unknown confidences 0.1 .. 0.9 (9 of them, plus 1.0): rejecting 90% needs all of 0.1 .. 0.9 below the threshold
    unknown = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    known = np.array([0.99, 0.85, 0.3])
    right = np.array([True, True, False])
    t = threshold_at(known, right, unknown, OperatingPoint(reject_unknown=0.9))
    assert t == pytest.approx((0.9 + 0.95) / 2) and (unknown < t).mean() == 0.9
    t = threshold_at(known, right, unknown, OperatingPoint(reject_unknown=0.5))
    assert t == pytest.approx((0.5 + 0.6) / 2)


def test_operating_point_accepts_the_share_of_known_photos_asked_for():
    # 4 known photos, 3 right (0.9, 0.7, 0.4) and one wrong: accepting 50% right needs 0.9 and 0.7 accepted
    known = np.array([0.9, 0.8, 0.7, 0.4])
    right = np.array([True, False, True, True])
    t = threshold_at(known, right, np.array([0.2, 0.6]), OperatingPoint(reject_unknown=None, accept_right=0.5))
    assert t == pytest.approx((0.7 + 0.6) / 2) and ((known >= t) & right).mean() == 0.5
    # more than the right answers can give: everything right is accepted
    t = threshold_at(known, right, np.array([0.2]), OperatingPoint(reject_unknown=None, accept_right=0.9))
    assert ((known >= t) & right).sum() == 3


def test_operating_point_is_one_share():
    assert OperatingPoint.of() == OperatingPoint(reject_unknown=0.9)
    assert OperatingPoint.of(accept_right=0.8).describe() == "accept and name right 80% of known photos"
    with pytest.raises(ValueError):
        OperatingPoint.of(0.9, 0.8)
    with pytest.raises(ValueError):
        OperatingPoint(reject_unknown=1.5)


def test_calibrate_reports_what_the_operating_point_gives():
    rng = np.random.default_rng(0)
    known = features(rng.uniform(0.7, 0.95, 40), rng.uniform(0.0, 0.2, 40), rng.uniform(0.3, 1.0, 40))
    unknown = features(rng.uniform(0.5, 0.8, 40), rng.uniform(0.0, 0.1, 40), rng.uniform(0.1, 0.7, 40))
    right = rng.uniform(size=40) < 0.8
    cal = calibrate(known, right, unknown, "test", OperatingPoint(reject_unknown=0.75), unknown_products=7)
    confidence = cal.confidence(unknown)
    assert cal.unknown_reject_rate == (confidence < cal.threshold).mean() >= 0.75
    assert cal.accepted_right_rate == ((cal.confidence(known) >= cal.threshold) & right).mean()
    assert cal.operating_point == "reject 75% of unknown products" and cal.unknown_products == 7
