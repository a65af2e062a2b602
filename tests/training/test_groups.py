"""Burst groups and honest validation splits (training/groups.py, split.py), on synthetic vectors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from productlens.training.groups import Photo, burst_copy, burst_groups, burst_threshold, frame_key, related_threshold
from productlens.training.split import MIN_VAL_PHOTOS, hold_out_groups, plan_validation

pytestmark = pytest.mark.fast


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def bursts(rng: np.random.Generator, products: int, shots: int, frames: int, spread: float = 0.02):
    """`shots` distinct shots per product, each repeated as `frames` near-identical frames."""
    vectors, photos, shot_of = [], [], []
    for p in range(products):
        base = rng.standard_normal(64)
        for s in range(shots):
            shot = base + 0.8 * rng.standard_normal(64)  # another angle: same product, clearly different
            for f in range(frames):
                vectors.append(shot + spread * rng.standard_normal(64))
                photos.append(Photo(f"p{p}", f"/shop/p{p}/shot{s}-frame{f}.jpg"))
                shot_of.append((p, s))
    return unit(np.array(vectors)), photos, shot_of


def test_frames_of_a_burst_share_a_group_and_shots_do_not():
    vectors, photos, shot_of = bursts(np.random.default_rng(0), products=3, shots=4, frames=3)
    groups = burst_groups(vectors, photos, burst=0.95, related=0.99)
    for i in range(len(photos)):
        for j in range(len(photos)):
            assert (groups[i] == groups[j]) == (shot_of[i] == shot_of[j])


def test_groups_never_span_two_products_even_for_identical_photos():
    v = unit(np.ones((2, 8)))
    groups = burst_groups(v, [Photo("a"), Photo("b")], burst=0.9, related=0.5)
    assert groups[0] != groups[1]


def test_numbered_frames_and_capture_times_link_only_alike_photos():
    v = unit(np.array([[1.0, 0.0], [0.9, 0.44], [0.0, 1.0], [0.7, 0.71]]))
    photos = [Photo("a", "/s/IMG_0041.jpg"), Photo("a", "/s/IMG_0042.jpg"), Photo("a", "/s/IMG_0043.jpg"),
              Photo("a", "/s/other.jpg", captured=100.0)]
    groups = burst_groups(v, photos, burst=0.99, related=0.8)
    assert groups[0] == groups[1]  # consecutive frames, cosine 0.9
    assert groups[2] != groups[1]  # the next frame, but cosine 0.44: not alike
    assert frame_key("/s/IMG_0041.jpg") == ("/s/IMG_", 41) and frame_key("/s/photo.jpg") is None
    timed = [Photo("a", captured=100.0), Photo("a", captured=101.5), Photo("a", captured=200.0)]
    close = unit(np.array([[1.0, 0.0], [0.85, 0.53], [0.85, -0.53]]))
    groups = burst_groups(close, timed, burst=0.99, related=0.8)
    assert groups[0] == groups[1] and groups[2] != groups[0]  # 1.5 s apart vs 100 s apart


def test_related_threshold_is_the_median_nearest_other_product():
    v = unit(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]))
    # a, b, b: nearest other-product cosines 0.8 (row 1), 0.8 (row 0), 0.0 (row 0) -> median 0.8
    assert related_threshold(v, ["a", "b", "b"]) == pytest.approx(0.8)
    # a, a, b: 0.0 (row 2), 0.6 (row 2), 0.6 (row 1) -> median 0.6; and over rows 0 and 2 only: 0.3
    assert related_threshold(v, ["a", "a", "b"]) == pytest.approx(0.6)
    assert related_threshold(v, ["a", "a", "b"], rows=np.array([0, 2])) == pytest.approx(0.3)


def test_burst_copies_measure_how_alike_frames_are():
    image = Image.linear_gradient("L").convert("RGB").resize((96, 96))

    def embed(images):
        rows = np.stack([np.asarray(im.resize((8, 8)), np.float32).ravel() for im in images]) - 128.0
        return unit(rows)

    threshold = burst_threshold(embed, [image, image.rotate(90)], seed=0)
    assert 0.5 < threshold < 1.0
    copy = burst_copy(image, np.random.default_rng(1))
    assert copy.size == image.size and copy.mode == "RGB"


def test_held_out_groups_stay_whole_and_leave_two_behind():
    groups = np.array([0, 0, 0, 1, 1, 2, 3, 4, 4, 5])
    products = np.array(["a"] * 7 + ["b"] * 3)
    held = hold_out_groups(groups, products, fraction=0.5, seed=0)
    for g in np.unique(groups):
        assert held[groups == g].all() or not held[groups == g].any()  # whole groups only
    assert not held[products == "b"].any()  # b has two groups: it keeps both
    assert len(np.unique(groups[(products == "a") & ~held])) >= 2


def test_a_plan_holds_out_groups_when_it_can():
    vectors, photos, _ = bursts(np.random.default_rng(1), products=10, shots=6, frames=2)
    groups = burst_groups(vectors, photos, burst=0.95, related=0.99)
    plan = plan_validation(groups, [p.product_id for p in photos], fraction=0.2, seed=0)
    assert plan.kind == "groups" and plan.products_validated == 10 and len(plan.val) >= MIN_VAL_PHOTOS
    assert not set(groups[plan.val]) & set(groups[plan.train])
    assert plan.describe() == f"{len(plan.val)} photos of held-out burst groups"


def test_too_few_groups_fall_back_to_cross_validation_then_to_none():
    products = np.repeat(["a", "b", "c"], 4)
    two_groups = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    plan = plan_validation(two_groups, products)
    assert plan.kind == "cross-validation" and plan.notes and "cross-validation" in plan.notes[1]
    for train, val in plan.folds:
        assert not set(two_groups[train]) & set(two_groups[val])
    one_burst_each = np.repeat([0, 1, 2], 4)
    none = plan_validation(one_burst_each, products)
    assert none.kind == "none" and not none.folds and "near-copies" in none.notes[-1]
