# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The lean label image (low-res logits, per-object boxes) equals the full-size path's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_core.labels import full_label_image, label_image, upsample_like_interpolate
from sam2_core.tracker import TrackResult
from sam2_ros.outputs import frame_labels, object_geometries
from sam2_ros.outputs import label_image as full_size_label_image


def blobs(rng: np.random.Generator, n: int, h: int, w: int) -> torch.Tensor:
    """``n x 1 x h x w`` logits of round objects (positive inside), like a tracker's low-res output."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(-0.1, 1.1) * h, rng.uniform(-0.1, 1.1) * w  # some touch or leave the frame
        radius = rng.uniform(1.0, h / 3)
        out.append((radius - np.hypot(yy - cy, xx - cx)) * rng.uniform(0.3, 4.0))
    return torch.from_numpy(np.stack(out)[:, None].astype(np.float32))


def result_of(low: torch.Tensor, scores: torch.Tensor, ids: list[int], size, non_overlap=False) -> TrackResult:
    return TrackResult(0, ids, low, scores, size, non_overlap)


def todays_labels(result: TrackResult) -> np.ndarray:
    """What the node published before the lean path: ownership from the N x H x W masks and logits."""
    return full_size_label_image(result.masks, result.mask_logits, result.obj_ids, result.object_scores)


def assert_same(result: TrackResult, *, lean: bool | None = None) -> np.ndarray:
    labels, regions = frame_labels(result)
    expected = todays_labels(result)
    assert labels.dtype == np.uint16 and labels.shape == expected.shape
    np.testing.assert_array_equal(labels, expected)
    if lean is not None:  # which path decided (None: either may, by the kernel check)
        assert result.label_image().lean is lean
    if regions is not None:
        for obj_id in result.obj_ids:
            ys, xs = np.nonzero(expected == obj_id)
            if len(ys):  # every owned pixel lies in the object's box
                y0, y1, x0, x1 = regions[obj_id]
                assert y0 <= ys.min() and ys.max() < y1 and x0 <= xs.min() and xs.max() < x1
    return labels


@pytest.mark.parametrize("low_size", [16, 64, 256])
def test_random_results_at_odd_frame_sizes_match_the_full_size_path(low_size):
    rng = np.random.default_rng(low_size)
    # camera sizes (lean), sizes that are no multiple of the grid, and small ones (another kernel regime)
    sizes = {
        16: [(720, 1280), (19, 39)],
        64: [(480, 640), (low_size + 3, 2 * low_size + 7)],
        256: [(333, 517), (1081, 353)],
    }
    for k, size in enumerate(sizes[low_size]):
        n = int(rng.integers(1, 7))
        low = (
            blobs(rng, n, low_size, low_size)
            if k % 2 == 0
            else torch.from_numpy(rng.normal(0, 4, (n, 1, low_size, low_size)).astype(np.float32))
        )
        scores = torch.from_numpy(rng.normal(1, 2, n).astype(np.float32))
        ids = [int(i) for i in rng.choice(np.arange(1, 60000), n, replace=False)]
        for non_overlap in (False, True):
            assert_same(result_of(low, scores, ids, size, non_overlap), lean=True if k == 0 else None)


def test_ties_overlaps_absent_objects_and_non_overlap_by_hand():
    size = (90, 130)
    base = torch.full((1, 1, 16, 16), -8.0)
    a = base.clone()
    a[..., 3:9, 3:9] = 5.0
    b = a.clone()  # identical to a: every tie goes to the first object
    c = base.clone()
    c[..., 6:14, 6:14] = 9.0  # overlaps a and b, higher
    absent = base.clone()
    absent[..., 0:16, 0:5] = 20.0  # the highest logits on the left, over a's left part, but absent
    low = torch.cat([a, b, c, absent])
    scores = torch.tensor([3.0, 3.0, 3.0, -2.0])
    ids = [4, 9, 2, 7]
    labels = assert_same(result_of(low, scores, ids, size), lean=True)
    assert set(np.unique(labels)) == {0, 4, 2}  # 9 loses every tie to 4; 7 is absent
    # non-overlap: the absent object still wins its pixels, so nobody owns them
    blocked = assert_same(result_of(low, scores, ids, size, non_overlap=True))
    assert (labels[22:30, 28:36] == 4).all() and (blocked[22:30, 28:36] == 0).all()
    assert (blocked[22:30, 44:48] == 4).all()
    # an object with no positive cell, and a frame with no object at all
    assert_same(result_of(torch.cat([base, a]), torch.tensor([1.0, 1.0]), [1, 2], size))
    empty = result_of(torch.zeros(0, 1, 16, 16), torch.zeros(0), [], size)
    labels, regions = frame_labels(empty)
    assert labels.shape == size and not labels.any() and regions == {}


def test_exact_zeros_and_frames_smaller_than_the_low_res_grid():
    low = torch.zeros(2, 1, 16, 16)
    low[0, 0, 4:8, 4:8] = 1e-3  # tiny logits next to exact zeros
    low[1, 0, 6:10, 6:10] = 1e-3
    assert_same(result_of(low, torch.ones(2), [1, 2], (60, 90)), lean=True)
    # downsampling rows: another kernel regime, decided by the full path, still the same image
    assert_same(result_of(low, torch.ones(2), [1, 2], (12, 70)), lean=False)
    full = full_label_image(low, torch.ones(2), [1, 2], (50, 70))
    assert not full.lean and full.regions is None


def test_the_lean_arithmetic_is_the_interpolate_kernels():
    low = torch.randn(1, 1, 64, 64) * 10
    reference = torch.nn.functional.interpolate(low, size=(721, 1283), mode="bilinear", align_corners=False)
    assert torch.equal(upsample_like_interpolate(low[0, 0], (721, 1283)), reference[0, 0])


@pytest.mark.cuda
def test_cuda_tensors_take_the_full_path_on_the_device():
    low = blobs(np.random.default_rng(3), 3, 64, 64).cuda()
    owned = label_image(low, torch.ones(3, device="cuda"), [1, 2, 3], (200, 300))
    assert owned.labels.device.type == "cuda" and not owned.lean
    cpu = label_image(low.cpu(), torch.ones(3), [1, 2, 3], (200, 300))
    assert torch.equal(owned.labels.cpu(), cpu.labels)


def test_geometry_inside_the_boxes_equals_geometry_of_the_whole_image():
    rng = np.random.default_rng(5)
    for size in [(720, 1280), (241, 319)]:
        n = 6
        result = result_of(blobs(rng, n, 64, 64), torch.ones(n), list(range(1, n + 1)), size)
        labels, regions = frame_labels(result)
        assert regions is not None
        for epsilon in (0.0, 1.0):
            lean = object_geometries(labels, result.obj_ids, epsilon, regions)
            full = object_geometries(labels, result.obj_ids, epsilon)
            for a, b in zip(lean, full):
                assert (a.object_id, a.area, a.bbox, a.centroid) == (b.object_id, b.area, b.bbox, b.centroid)
                assert len(a.contours) == len(b.contours)
                for ca, cb in zip(a.contours, b.contours):
                    np.testing.assert_array_equal(ca, cb)
