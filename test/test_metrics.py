# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DAVIS J and F on hand-made masks with known answers (exact comparisons unless a tolerance is stated)."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_core.metrics import (
    boundary_f_measure,
    boundary_map,
    evaluate_sequence,
    region_similarity,
    summarize,
)


def square(size: int, top: int, left: int, side: int) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[top : top + side, left : left + side] = True
    return m


def test_identical_masks_score_one():
    m = square(64, 10, 12, 20)
    assert region_similarity(m, m) == 1.0
    assert boundary_f_measure(m, m) == 1.0


def test_disjoint_masks_score_zero():
    a, b = square(64, 2, 2, 10), square(64, 40, 40, 10)
    assert region_similarity(a, b) == 0.0
    assert boundary_f_measure(a, b) == 0.0


def test_shifted_square_iou():
    # 40 x 40 squares 10 px apart: intersection 30 * 40, union 2 * 1600 - 1200
    a, b = square(128, 20, 20, 40), square(128, 20, 30, 40)
    assert region_similarity(a, b) == pytest.approx(1200 / 2000, abs=1e-12)


def test_empty_masks():
    empty, m = np.zeros((32, 32), bool), square(32, 4, 4, 8)
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert region_similarity(empty, m) == 0.0 and region_similarity(m, empty) == 0.0
    assert boundary_f_measure(empty, m) == 0.0 and boundary_f_measure(m, empty) == 0.0


def test_non_bool_masks_are_thresholded_at_zero():
    m = square(32, 4, 4, 8)
    assert region_similarity(m.astype(np.uint8) * 255, m) == 1.0
    assert boundary_f_measure(m.astype(np.float32), m) == 1.0


def test_boundary_map_follows_davis_convention():
    # a single pixel differs from its right/lower/lower-right neighbours at itself and at the three
    # pixels above and to the left of it
    m = np.zeros((6, 6), bool)
    m[3, 3] = True
    expected = np.zeros_like(m)
    expected[2:4, 2:4] = True
    np.testing.assert_array_equal(boundary_map(m), expected)
    # the image border is never a boundary: a full mask has none
    assert not boundary_map(np.ones((5, 7), bool)).any()


def test_f_tolerates_one_pixel_shift_but_not_twenty():
    # 64 x 64: tolerance radius ceil(0.008 * 90.5) = 1 pixel
    a = square(64, 10, 10, 30)
    assert boundary_f_measure(a, np.roll(a, 1, axis=1)) == 1.0
    assert boundary_f_measure(a, np.roll(a, 1, axis=0)) == 1.0
    assert boundary_f_measure(a, np.roll(a, 2, axis=1)) < 1.0
    # 128 x 128, 20 px shift: only parts of the top and bottom edges still match
    b = square(128, 20, 20, 40)
    f = boundary_f_measure(b, np.roll(b, 20, axis=1))
    assert 0.0 < f < 0.5


def test_f_with_extra_false_positive_region():
    # prediction = ground truth + a translated copy far away: recall 1, precision 1/2, F = 2/3
    gt = square(128, 10, 10, 20)
    pred = gt | square(128, 80, 80, 20)
    assert boundary_f_measure(pred, gt) == pytest.approx(2 / 3, abs=1e-12)
    assert boundary_f_measure(gt, pred) == pytest.approx(2 / 3, abs=1e-12)
    assert region_similarity(pred, gt) == pytest.approx(0.5, abs=1e-12)


def test_bound_th_in_pixels():
    a = square(64, 10, 10, 30)
    shifted = np.roll(a, 3, axis=1)
    assert boundary_f_measure(a, shifted, bound_th=3) == 1.0
    assert boundary_f_measure(a, shifted, bound_th=2) < 1.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        region_similarity(np.zeros((4, 4), bool), np.zeros((4, 5), bool))
    with pytest.raises(ValueError):
        evaluate_sequence(np.zeros((2, 1, 4, 4), bool), np.zeros((2, 2, 4, 4), bool))


def test_evaluate_sequence_statistics():
    size, t_n = 32, 5
    gt = np.zeros((t_n, 2, size, size), bool)
    gt[:, 0] = square(size, 4, 4, 10)
    gt[:, 1] = square(size, 18, 18, 8)
    pred = gt.copy()
    pred[0] = False  # the prompt frame is skipped, so this costs nothing
    pred[3:, 1] = False  # object 2 is lost for the last two frames: J per frame 1, 1, 0, 0
    res = evaluate_sequence(pred, gt)
    assert res["J_per_frame"].shape == (4, 2) and res["F_per_frame"].shape == (4, 2)
    np.testing.assert_array_equal(res["J_per_frame"][:, 1], [1, 1, 0, 0])
    np.testing.assert_array_equal(res["J_mean"], [1.0, 0.5])
    np.testing.assert_array_equal(res["F_mean"], [1.0, 0.5])
    np.testing.assert_array_equal(res["J_recall"], [1.0, 0.5])
    # DAVIS decay: mean of the first quarter bin minus the last one, here frames {0, 1} and {2, 3}
    np.testing.assert_array_equal(res["J_decay"], [0.0, 1.0])
    np.testing.assert_array_equal(res["J&F_mean"], [1.0, 0.5])
    assert res["J"] == 0.75 and res["F"] == 0.75 and res["J&F"] == 0.75
    # counting the wrong first frame lowers object 1
    assert evaluate_sequence(pred, gt, skip_first=False)["J_mean"][0] == pytest.approx(0.8, abs=1e-12)
    assert evaluate_sequence(pred, gt, skip_last=True)["J_per_frame"].shape == (3, 2)


def test_summarize_pools_objects_over_videos():
    size = 16
    gt = np.zeros((3, 1, size, size), bool)
    gt[:, 0] = square(size, 2, 2, 6)
    perfect = evaluate_sequence(gt, gt)
    gt3 = np.repeat(gt, 3, axis=1)
    wrong = evaluate_sequence(np.zeros_like(gt3), gt3)
    s = summarize([perfect, wrong])
    # four objects in all, one perfect and three at zero
    assert s["J"] == 0.25 and s["F"] == 0.25 and s["J&F"] == 0.25
    assert s["J&F_per_video"] == 0.5
    assert s["num_videos"] == 2 and s["num_objects"] == 4
    with pytest.raises(ValueError):
        summarize([])
