# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Label image, object geometry, messages, overlay and markers from hand-made masks (no rclpy.init)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from sam2_ros.image_conversion import image_to_array
from sam2_ros.outputs import (
    PALETTE,
    ObjectGeometry,
    colour_for_id,
    contour_markers,
    image_msg,
    label_image,
    object_geometries,
    object_geometry,
    overlay_image,
    pinhole_intrinsics,
    presence_probability,
    to_numpy,
    tracked_object,
    tracked_object_array,
)


def two_overlapping_objects():
    """Object 7 (left block) and 3 (right block) overlap in columns 4..5; 3 is more confident there."""
    masks = np.zeros((2, 6, 10), dtype=bool)
    masks[0, 1:5, 1:6] = True
    masks[1, 2:6, 4:9] = True
    logits = np.where(masks, 1.0, -5.0).astype(np.float32)
    logits[1, 2:5, 4:6] = 2.0
    return masks, logits, [7, 3]


def test_label_image_gives_overlaps_to_the_highest_logit_on_numpy_and_torch():
    masks, logits, ids = two_overlapping_objects()
    expected = np.zeros((6, 10), dtype=np.uint16)
    expected[masks[0]] = 7
    expected[masks[1]] = 3  # every overlap pixel has logit 2 for object 3 vs 1 for object 7
    labels = label_image(masks, logits, ids)
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, expected)
    from_torch = label_image(torch.from_numpy(masks), torch.from_numpy(logits), ids, torch.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(from_torch, expected)
    logits[0, 2:5, 4:6] = 3.0  # now object 7 wins the overlap
    np.testing.assert_array_equal(label_image(masks, logits, ids)[2:5, 4:6], 7)


def test_absent_objects_own_no_pixel_and_no_objects_means_background():
    masks, logits, ids = two_overlapping_objects()
    labels = label_image(masks, logits, ids, np.array([-0.5, 2.0]))
    assert set(np.unique(labels)) == {0, 3}
    torch_labels = label_image(torch.from_numpy(masks), torch.from_numpy(logits), ids, torch.tensor([-0.5, 2.0]))
    np.testing.assert_array_equal(torch_labels, labels)
    empty = label_image(torch.zeros(0, 4, 5, dtype=torch.bool), torch.zeros(0, 4, 5), [])
    assert empty.shape == (4, 5) and not empty.any()
    assert label_image(np.zeros((0, 4, 5), bool), np.zeros((0, 4, 5)), []).shape == (4, 5)


def test_object_geometry_of_a_rectangle():
    labels = np.zeros((20, 30), dtype=np.uint16)
    labels[4:10, 5:15] = 2  # 6 rows x 10 columns
    g = object_geometry(labels, 2, epsilon_px=1.0)
    assert g.area == 60
    assert g.bbox == (5.0, 4.0, 15.0, 10.0)  # x_max, y_max one past the last pixel
    assert g.centroid == pytest.approx((9.5, 6.5))
    assert len(g.contours) == 1
    assert sorted(map(tuple, g.contours[0])) == [(5, 4), (5, 9), (14, 4), (14, 9)]
    absent = object_geometry(labels, 9)
    assert absent.area == 0 and absent.contours == [] and absent.bbox == (0.0, 0.0, 0.0, 0.0)


def test_contours_are_outer_boundaries_largest_first_and_epsilon_simplifies():
    labels = np.zeros((40, 40), dtype=np.uint16)
    yy, xx = np.mgrid[0:40, 0:40]
    labels[(xx - 20) ** 2 + (yy - 20) ** 2 <= 12**2] = 5
    labels[18:22, 18:22] = 0  # a hole: not an outer boundary
    labels[1:3, 1:3] = 5  # a small second part
    fine = object_geometry(labels, 5, epsilon_px=0.0)
    coarse = object_geometry(labels, 5, epsilon_px=3.0)
    assert len(fine.contours) == len(coarse.contours) == 2
    assert len(fine.contours[0]) > len(coarse.contours[0]) >= 4
    assert len(fine.contours[1]) <= 4  # the small square comes second
    assert fine.area == coarse.area == int((labels == 5).sum())


def test_object_geometries_keep_order_and_handle_absent_ids():
    labels = np.zeros((5, 5), dtype=np.uint16)
    labels[0, 0] = 4
    got = object_geometries(labels, [9, 4])
    assert [g.object_id for g in got] == [9, 4]
    assert [g.area for g in got] == [0, 1]
    assert object_geometries(labels, []) == []


def test_tracked_object_messages():
    g = ObjectGeometry(3, area=60, bbox=(5.0, 4.0, 15.0, 10.0), centroid=(9.5, 6.5),
                       contours=[np.array([[5, 4], [14, 4], [14, 9]], dtype=np.int32)])  # fmt: skip
    msg = tracked_object(g, label="mug", score_logit=2.0)
    assert (msg.id, msg.label, msg.visible, msg.area) == (3, "mug", True, 60)
    assert msg.score == pytest.approx(1 / (1 + math.exp(-2.0)), rel=1e-6)  # tolerance: float32 field
    np.testing.assert_array_equal(msg.bbox, [5, 4, 15, 10])
    assert (msg.centroid.x, msg.centroid.y) == (9.5, 6.5)
    assert [(p.x, p.y) for p in msg.contours[0].points] == [(5, 4), (14, 4), (14, 9)]
    hidden = tracked_object(g, label="mug", score_logit=-1.0)  # the model says absent
    assert not hidden.visible and hidden.area == 0 and not hidden.contours and not hidden.bbox.any()
    assert not tracked_object(ObjectGeometry(3), label="", score_logit=5.0).visible  # present but no pixel
    assert presence_probability(-1000.0) == 0.0 and presence_probability(1000.0) == 1.0
    header = Header(frame_id="cam")
    header.stamp.sec = 42
    array = tracked_object_array(header, [g, ObjectGeometry(8)], {3: "mug"}, [2.0, -3.0])
    assert array.header.stamp.sec == 42 and array.header.frame_id == "cam"
    assert [(o.id, o.label, o.visible) for o in array.objects] == [(3, "mug", True), (8, "", False)]


def test_to_numpy_handles_tensors_of_any_float_type():
    np.testing.assert_array_equal(to_numpy(torch.tensor([1.5, -2.0], dtype=torch.bfloat16)), [1.5, -2.0])
    assert to_numpy([1, 2]).tolist() == [1, 2]


def test_image_msg_copies_the_header():
    header = Header(frame_id="cam")
    header.stamp.nanosec = 7
    msg = image_msg(header, np.full((2, 3), 5, dtype=np.uint16), "mono16")
    assert msg.header.frame_id == "cam" and msg.header.stamp.nanosec == 7 and msg.encoding == "mono16"
    np.testing.assert_array_equal(image_to_array(msg), 5)


def test_overlay_tints_owned_pixels_only_and_draws_outline_and_caption():
    rgb = np.full((60, 80, 3), 100, dtype=np.uint8)
    labels = np.zeros((60, 80), dtype=np.uint16)
    labels[20:40, 30:60] = 2
    g = object_geometry(labels, 2)
    out = overlay_image(rgb, labels, [g], {2: "box"}, alpha=0.5)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    expected_tint = np.rint(100 * 0.5 + PALETTE[2].astype(np.float32) * 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out[30, 45], expected_tint)  # inside, away from the outline
    np.testing.assert_array_equal(out[55, 5], [100, 100, 100])  # far from the object: untouched
    assert (out[20:40, 30] == colour_for_id(2)).all(axis=-1).any()  # the outline on the left edge
    assert (out[5:20, 30:60] != 100).any()  # the caption above the box
    assert (rgb == 100).all()  # the input is not modified
    outline_only = overlay_image(rgb, labels, [g], {}, alpha=0.0)
    np.testing.assert_array_equal(outline_only[30, 45], [100, 100, 100])


def test_pinhole_intrinsics_scale_or_fall_back():
    info = CameraInfo(width=640, height=480)
    info.k = [500.0, 0, 320.0, 0, 400.0, 240.0, 0, 0, 1]
    assert pinhole_intrinsics(320, 240, info) == pytest.approx((250.0, 200.0, 160.0, 120.0))
    assert pinhole_intrinsics(64, 48, None) == (64.0, 64.0, 32.0, 24.0)
    assert pinhole_intrinsics(64, 48, CameraInfo()) == (64.0, 64.0, 32.0, 24.0)  # K all zero


def test_contour_markers_lift_pixels_to_a_plane_in_front_of_the_camera():
    labels = np.zeros((48, 64), dtype=np.uint16)
    labels[10:20, 30:40] = 4
    geometries = [object_geometry(labels, 4), ObjectGeometry(5)]
    header = Header(frame_id="cam")
    header.stamp.sec = 9
    markers = contour_markers(header, geometries, {4: "can"}, (100.0, 100.0, 32.0, 24.0), depth_m=2.0).markers
    assert markers[0].action == Marker.DELETEALL
    strips = [m for m in markers if m.type == Marker.LINE_STRIP]
    texts = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert len(strips) == 1 and len(texts) == 1  # object 5 is absent: nothing drawn
    strip = strips[0]
    assert strip.header.frame_id == "cam" and strip.header.stamp.sec == 9 and strip.ns == "sam2_contours"
    assert (strip.points[0].x, strip.points[0].y) == (strip.points[-1].x, strip.points[-1].y)  # closed
    corner = min(strip.points, key=lambda p: (p.x, p.y))
    assert (corner.x, corner.y, corner.z) == pytest.approx(((30 - 32) / 100 * 2, (10 - 24) / 100 * 2, 2.0))
    assert tuple(round(c * 255) for c in (strip.color.r, strip.color.g, strip.color.b)) == colour_for_id(4)
    assert texts[0].text == "4 can" and texts[0].pose.position.z == 2.0
