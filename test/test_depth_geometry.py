# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Depth decoding, alignment, erosion, back-projection, robust centre and extent on hand-made images (no rclpy)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from sam2_ros.depth.geometry import (
    AlignedDepth,
    DepthError,
    alignment_indices,
    back_project,
    decode_depth,
    depth_to_array,
    intrinsics_for,
    measure_object,
    object_region,
    subsample,
)

INTRINSICS = (100.0, 110.0, 31.5, 23.5)  # fx, fy, cx, cy of a 64 x 48 image


def depth_msg(values: np.ndarray, encoding: str, *, big_endian: bool = False, pad: int = 0) -> SimpleNamespace:
    """A depth Image look-alike holding ``values`` (rows padded by ``pad`` bytes)."""
    dtype = {"16UC1": "u2", "mono16": "u2", "32FC1": "f4"}.get(encoding, "u2")
    array = np.ascontiguousarray(values, dtype=(">" if big_endian else "<") + dtype)
    rows = array.view(np.uint8).reshape(array.shape[0], -1)
    data = np.hstack([rows, np.zeros((rows.shape[0], pad), np.uint8)]) if pad else rows
    return SimpleNamespace(
        height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=int(big_endian),
        step=rows.shape[1] + pad, data=data.tobytes(),
    )  # fmt: skip


# --- decoding ----------------------------------------------------------------------------------
def test_16_bit_depth_is_scaled_to_metres_and_zero_means_no_reading():
    raw = np.array([[0, 1000, 1500], [65535, 2, 0]], dtype=np.uint16)
    for encoding in ("16UC1", "mono16"):
        depth = decode_depth(depth_msg(raw, encoding), 0.001)
        np.testing.assert_allclose(depth.metres, [[np.nan, 1.0, 1.5], [65.535, 0.002, np.nan]], rtol=1e-6)
        assert depth.metres.dtype == np.float32 and (depth.valid, depth.negative) == (4, 0)
    tenths = decode_depth(depth_msg(raw, "16UC1"), 0.0001)  # depth_scale_m for other units (100 um)
    assert tenths.metres[0, 1] == pytest.approx(0.1)


def test_big_endian_and_padded_rows_are_read_right():
    raw = np.array([[1000, 2000], [3000, 4000]], dtype=np.uint16)
    depth = decode_depth(depth_msg(raw, "16UC1", big_endian=True, pad=6), 0.001)
    np.testing.assert_allclose(depth.metres, raw / 1000.0, rtol=1e-6)
    floats = np.array([[1.25, 2.5]], dtype=np.float32)
    np.testing.assert_array_equal(decode_depth(depth_msg(floats, "32FC1", big_endian=True, pad=4)).metres, floats)


def test_float_depth_keeps_metres_and_drops_nan_infinite_zero_and_negative():
    values = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, -0.5]], dtype=np.float32)
    depth = decode_depth(depth_msg(values, "32FC1"), 0.001)  # the scale applies to integer depth only
    assert depth.metres[0, 0] == 1.5 and np.isnan(depth.metres.ravel()[1:]).all()
    assert (depth.valid, depth.negative) == (1, 1)  # -0.5 is not depth in any convention; -inf is "too near"


@pytest.mark.parametrize(
    "values, encoding",
    [
        (np.zeros((4, 5), np.uint16), "16UC1"),
        (np.full((4, 5), np.nan, np.float32), "32FC1"),
        (np.full((4, 5), np.inf, np.float32), "32FC1"),
        (np.full((4, 5), -1.0, np.float32), "32FC1"),
    ],
)
def test_depth_without_any_valid_pixel_is_refused_with_its_reason(values, encoding):
    with pytest.raises(DepthError, match="has no valid depth: every pixel is zero, NaN, infinite or negative") as e:
        decode_depth(depth_msg(values, encoding))
    assert e.value.reason == "no_valid"


def test_unreadable_depth_messages_name_the_problem():
    good = depth_msg(np.ones((4, 5), np.uint16), "16UC1")
    cases = [
        ({"encoding": "rgb8"}, "encoding", "unsupported depth encoding 'rgb8' (supported: 16UC1 and mono16"),
        ({"encoding": "32FC3"}, "encoding", "unsupported depth encoding '32FC3'"),
        ({"width": 0}, "layout", "depth image has zero size (0 x 4)"),
        ({"step": 8}, "layout", "step 8 is smaller than width * bytes per pixel = 5 * 2"),
        ({"data": bytes(10)}, "layout", "depth image data has 10 bytes, fewer than step * height = 10 * 4"),
    ]
    for fields, reason, text in cases:
        msg = SimpleNamespace(**{**vars(good), **fields})
        with pytest.raises(DepthError) as error:
            depth_to_array(msg)
        assert error.value.reason == reason and text in str(error.value), fields


# --- alignment and intrinsics --------------------------------------------------------------------
def test_depth_of_another_size_is_aligned_by_nearest_neighbour_without_mixing_edges():
    rows, cols = alignment_indices((320, 240), (640, 480))  # half size: each depth pixel covers 2 x 2
    np.testing.assert_array_equal(rows[:6], [0, 0, 1, 1, 2, 2])
    assert rows[-1] == 239 and cols[-1] == 319 and len(cols) == 640
    rows, cols = alignment_indices((1280, 720), (640, 360))  # double size: every other pixel
    np.testing.assert_array_equal(cols[:4], [1, 3, 5, 7])
    step = np.where(np.arange(32) < 13, 1.0, 3.0).astype(np.float32)[None].repeat(24, 0)  # an edge at x = 13
    aligned = AlignedDepth.of(decode_depth(depth_msg(step, "32FC1")), 64, 48)
    vs, us = np.mgrid[0:48, 0:64]
    values = aligned.at(vs.ravel(), us.ravel())
    assert set(np.unique(values)) == {1.0, 3.0}  # nothing interpolated across the edge
    assert aligned.at(np.array([0, 0]), np.array([25, 26])).tolist() == [1.0, 3.0]


def test_depth_of_another_aspect_ratio_is_refused():
    with pytest.raises(DepthError, match="depth image is 640 x 480 but the colour image is 1280 x 720") as error:
        alignment_indices((640, 480), (1280, 720))
    assert error.value.reason == "aspect"
    alignment_indices((424, 240), (848, 480))  # the same aspect ratio
    alignment_indices((641, 480), (640, 480))  # within a pixel: accepted


def test_intrinsics_come_from_camera_info_scaled_to_the_image():
    info = SimpleNamespace(width=64, height=48, k=[100.0, 0, 31.5, 0, 110.0, 23.5, 0, 0, 1])
    assert intrinsics_for(info, 64, 48) == INTRINSICS
    fx, fy, cx, cy = intrinsics_for(info, 128, 96)  # pixel centres kept: (c + 0.5) * 2 - 0.5
    assert (fx, fy, cx, cy) == (200.0, 220.0, 63.5, 47.5)
    with pytest.raises(DepthError, match="no camera_info received yet") as error:
        intrinsics_for(None, 64, 48)
    assert error.value.reason == "camera_info"
    with pytest.raises(DepthError, match="camera_info has no usable intrinsics"):
        intrinsics_for(SimpleNamespace(width=64, height=48, k=[0.0] * 9), 64, 48)
    for bad in ([math.inf, 0, 31.5, 0, math.inf, 23.5, 0, 0, 1], [100.0, 0, math.nan, 0, 110.0, 23.5, 0, 0, 1]):
        with pytest.raises(DepthError, match="camera_info has no usable intrinsics"):  # never NaN positions
            intrinsics_for(SimpleNamespace(width=64, height=48, k=bad), 64, 48)


def test_back_projection_is_the_pinhole_model():
    points = back_project(np.array([31.5, 131.5]), np.array([23.5, 23.5 - 55.0]), np.array([2.0, 4.0]), INTRINSICS)
    np.testing.assert_allclose(points, [[0.0, 0.0, 2.0], [4.0, -2.0, 4.0]])


# --- regions ---------------------------------------------------------------------------------------
def test_erosion_keeps_the_core_the_image_border_and_thin_objects_whole():
    labels = np.zeros((48, 64), np.uint16)
    labels[10:20, 10:20] = 3
    vs, us, core = object_region(labels, 3, erosion_px=2)
    assert len(vs) == 100 and core.sum() == 36  # a 10 x 10 square eroded by 2: its 6 x 6 middle
    assert vs[core].min() == 12 and vs[core].max() == 17
    labels[:] = 0
    labels[0:10, 0:10] = 4  # in the image's corner: only the inner sides erode
    vs, us, core = object_region(labels, 4, erosion_px=2)
    assert core.sum() == 64 and vs[core].min() == 0 and us[core].min() == 0
    labels[:] = 0
    labels[30, 5:40] = 5  # one pixel thick: eroding would leave nothing, so all of it counts
    vs, us, core = object_region(labels, 5, erosion_px=2)
    assert len(vs) == 35 and core.all()
    assert [len(a) for a in object_region(labels, 9, 2)] == [0, 0, 0]
    assert object_region(labels, 5, 0)[2].all()


def test_subsample_spreads_evenly_and_keeps_everything_when_there_are_few():
    np.testing.assert_array_equal(subsample(5, 10), np.arange(5))
    np.testing.assert_array_equal(subsample(101, 5), [0, 25, 50, 75, 100])
    assert len(subsample(1000, 0)) == 0


# --- robust centre and extent --------------------------------------------------------------------
def plate_scene() -> tuple[np.ndarray, np.ndarray]:
    """Object 2: a 20 x 16 plate at 1.2 m on a background at 3 m; its mask also covers a 1 px rim of
    background on every side (as a real mask does), and 12 of its pixels have no reading (holes)."""
    depth = np.full((48, 64), 3.0, np.float32)
    depth[14:30, 20:40] = 1.2
    depth[20:23, 25:29] = 0.0  # a hole in the depth
    labels = np.zeros((48, 64), np.uint16)
    labels[13:31, 19:41] = 2
    return labels, depth


def test_robust_centre_and_extent_ignore_background_at_the_edges_and_holes():
    labels, depth = plate_scene()
    aligned = AlignedDepth.of(decode_depth(depth_msg(depth, "32FC1")), 64, 48)
    obj = measure_object(labels, 2, aligned, INTRINSICS, erosion_px=2)
    vs, us = np.mgrid[14:30, 20:40]
    plate = np.ones((16, 20), bool)
    plate[6:9, 5:9] = False  # the hole
    truth = back_project(us[plate], vs[plate], np.full(plate.sum(), 1.2), INTRINSICS)
    assert obj.has_position and obj.depth_points == 16 * 20 - 12
    np.testing.assert_allclose(obj.position, truth.mean(0), atol=1e-6)  # exact: no background, no hole
    extent = truth.max(0) - truth.min(0)
    assert obj.size[2] == pytest.approx(0.0, abs=1e-6)
    assert 0.9 * extent[0] < obj.size[0] <= extent[0] + 1e-6 and 0.9 * extent[1] < obj.size[1] <= extent[1] + 1e-6
    assert np.all(obj.points >= truth.min(0) - 1e-5) and np.all(obj.points <= truth.max(0) + 1e-5)


def test_a_mask_bleeding_far_onto_the_background_still_finds_the_object():
    labels, depth = plate_scene()
    labels[13:31, 41:52] = 2  # a third of the mask is on the background
    aligned = AlignedDepth.of(decode_depth(depth_msg(depth, "32FC1")), 64, 48)
    obj = measure_object(labels, 2, aligned, INTRINSICS, erosion_px=2)
    assert obj.position[2] == pytest.approx(1.2) and obj.depth_points == 16 * 20 - 12


def test_an_object_with_depth_around_its_median_keeps_its_shape_in_z():
    labels = np.zeros((48, 64), np.uint16)
    labels[10:30, 10:50] = 1
    depth = np.full((48, 64), 4.0, np.float32)
    depth[10:30, 10:50] = np.linspace(1.0, 1.4, 40)[None]  # a slanted board, 40 cm deep
    aligned = AlignedDepth.of(decode_depth(depth_msg(depth, "32FC1")), 64, 48)
    obj = measure_object(labels, 1, aligned, INTRINSICS, erosion_px=2)
    assert obj.depth_points == 800 and obj.position[2] == pytest.approx(1.2, abs=0.01)
    assert obj.size[2] == pytest.approx(0.4 * 0.98, abs=0.02)  # 1st to 99th percentile of a uniform spread


def test_points_are_subsampled_but_the_centre_uses_them_all():
    labels, depth = plate_scene()
    aligned = AlignedDepth.of(decode_depth(depth_msg(depth, "32FC1")), 64, 48)
    full = measure_object(labels, 2, aligned, INTRINSICS, max_points=0)
    few = measure_object(labels, 2, aligned, INTRINSICS, max_points=50)
    assert len(full.points) == 0 and len(few.points) == 50 and len(few.pixels[0]) == 50
    np.testing.assert_array_equal(full.position, few.position)
    assert few.depth_points == full.depth_points == 308
    vs, us = few.pixels
    np.testing.assert_allclose(few.points, back_project(us, vs, depth[vs, us], INTRINSICS), rtol=1e-6)


def test_objects_without_valid_depth_or_pixels_get_no_position():
    labels, depth = plate_scene()
    depth[labels == 2] = np.nan
    depth[0, 0] = 2.0  # the image has some depth, the object none
    aligned = AlignedDepth.of(decode_depth(depth_msg(depth, "32FC1")), 64, 48)
    obj = measure_object(labels, 2, aligned, INTRINSICS)
    assert not obj.has_position and obj.depth_points == 0 and len(obj.points) == 0
    assert not measure_object(labels, 7, aligned, INTRINSICS).has_position


def test_half_resolution_depth_gives_the_same_centre():
    labels = np.zeros((48, 64), np.uint16)
    labels[10:30, 20:44] = 1  # on whole 2 x 2 blocks
    depth = np.full((24, 32), 2.5, np.float32)
    depth[5:15, 10:22] = 0.9
    aligned = AlignedDepth.of(decode_depth(depth_msg(depth, "32FC1")), 64, 48)
    obj = measure_object(labels, 1, aligned, INTRINSICS)
    vs, us = np.mgrid[10:30, 20:44]
    truth = back_project(us.ravel(), vs.ravel(), np.full(vs.size, 0.9), INTRINSICS).mean(0)
    np.testing.assert_allclose(obj.position, truth, atol=1e-6)
    assert obj.depth_points == 480 and not math.isnan(obj.size[0])


def test_depth_images_are_written_in_either_encoding_and_read_back():
    from sensor_msgs.msg import Image

    from sam2_ros.depth.geometry import fill_depth_image

    metres = np.array([[1.2344, np.nan], [70.0, 0.5]])
    mm = fill_depth_image(Image(), metres, "16UC1")
    assert (mm.encoding, mm.width, mm.height, mm.step, mm.is_bigendian) == ("16UC1", 2, 2, 4, 0)
    assert depth_to_array(mm).tolist() == [[1234, 0], [65535, 500]]  # no reading -> 0; saturates
    floats = fill_depth_image(Image(), metres, "32FC1")
    np.testing.assert_array_equal(decode_depth(floats).metres, metres.astype(np.float32))
    with pytest.raises(ValueError, match="depth encoding must be one of 16UC1, mono16, 32FC1"):
        fill_depth_image(Image(), metres, "8UC1")
