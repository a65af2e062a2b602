"""Rank fusion and the ridge text -> image map (pure functions, hand-checked values)."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.text.hybrid import TextImageMap, blend, rrf

pytestmark = pytest.mark.fast


def test_rrf_matches_hand_computed_scores():
    fused = dict(rrf([["a", "b", "c"], ["b", "c"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 62)
    assert [p for p, _ in rrf([["a", "b", "c"], ["b", "c"]])] == ["b", "c", "a"]


def test_rrf_weights():
    assert [p for p, _ in rrf([["a"], ["b"]], weights=[1.0, 0.5])] == ["a", "b"]


def test_blend_adds_beta_times_text():
    fused = dict(blend({"a": 0.9, "b": 0.85}, {"b": 0.6, "c": 0.7}, beta=0.1))
    assert fused == pytest.approx({"a": 0.9, "b": 0.91, "c": 0.07})


def test_ridge_map_recovers_a_linear_relation():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 8))
    x = rng.normal(size=(200, 16))
    y = x @ w
    mapping = TextImageMap.fit(x, y, alpha=1e-3)
    target = y[:5] / np.linalg.norm(y[:5], axis=1, keepdims=True)
    assert np.allclose(mapping(x[:5]), target, atol=1e-2)
    assert mapping.fitted_on == 200
