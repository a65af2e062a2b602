import numpy as np
import pytest

from productlens.recognition import calibrate, choose_threshold, default_calibration, fit_logistic, logistic

pytestmark = pytest.mark.fast


def test_threshold_separates_separable_scores():
    correct = np.array([0.9, 0.85, 0.8])
    impostor = np.array([0.5, 0.6, 0.7])
    t = choose_threshold(correct, np.array([True] * 3), impostor)
    assert 0.7 < t <= 0.8


def test_threshold_balances_overlap():
    # correct: 0.6, 0.8, 0.9 ; impostors: 0.5, 0.7 -> best balanced accuracy accepts {0.8, 0.9}, rejects both
    t = choose_threshold(np.array([0.6, 0.8, 0.9]), np.array([True, True, True]), np.array([0.5, 0.7]))
    assert 0.7 < t <= 0.8


def test_wrong_known_matches_do_not_count_as_correct():
    scores = np.array([0.95, 0.9, 0.6])
    correct = np.array([False, False, True])
    t = choose_threshold(scores, correct, np.array([0.3]))
    assert t <= 0.6


def test_logistic_fit_is_monotone_and_calibrated_direction():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.8, 0.05, 200), rng.normal(0.6, 0.05, 200)
    slope, intercept = fit_logistic(np.concatenate([pos, neg]), np.r_[np.ones(200), np.zeros(200)])
    assert slope > 0
    assert logistic(0.9, slope, intercept) > 0.9 and logistic(0.5, slope, intercept) < 0.1
    assert logistic(0.7, slope, intercept) == pytest.approx(0.5, abs=0.15)


def test_calibrate_reports_rates():
    cal = calibrate(np.array([0.9, 0.8, 0.4]), np.array([True, True, False]), np.array([0.5, 0.6, 0.3]))
    assert cal.known_queries == 3 and cal.unknown_queries == 3
    assert cal.known_accept_rate == 1.0 and cal.unknown_reject_rate == 1.0
    assert cal.top1_accuracy == pytest.approx(2 / 3)
    assert default_calibration().threshold == pytest.approx(0.75)
