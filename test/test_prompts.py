# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Prompt validation, prompt age, click targets and RViz click projection (no rclpy.init)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from sam2_ros.msg import Prompt
from sensor_msgs.msg import CameraInfo, Image

from sam2_ros.click_geometry import CameraModel, project_click, transform_point
from sam2_ros.image_conversion import fill_image
from sam2_ros.prompts import (
    FrameInfo,
    PromptError,
    check_prompt_age,
    click_target,
    prompt_from_click,
    stamp_to_ns,
    validate_prompt,
)

FRAME = FrameInfo(width=64, height=48, stamp_ns=10_000_000_000, frame_id="cam")


def prompt(object_id=1, points=(), labels=None, box=(), mask=None, stamp=(0, 0), label="cup") -> Prompt:
    msg = Prompt(object_id=object_id, label=label)
    msg.header.stamp = Time(sec=stamp[0], nanosec=stamp[1])
    msg.points = [Point(x=float(x), y=float(y)) for x, y in points]
    msg.point_labels = [1] * len(points) if labels is None else list(labels)
    msg.box = [float(v) for v in box]
    if mask is not None:
        msg.mask = mask
    return msg


def check(msg, **kw):
    return validate_prompt(msg, frame=kw.pop("frame", FRAME), **kw)


def test_points_box_and_mask_become_a_spec():
    spec = check(prompt(points=[(3, 4), (10.5, 20)], labels=[1, 0], box=(-5, 2, 30, 60)))
    assert spec.object_id == 1 and spec.label == "cup"
    np.testing.assert_array_equal(spec.points, np.array([[3, 4], [10.5, 20]], dtype=np.float32))
    np.testing.assert_array_equal(spec.point_labels, [1, 0])
    np.testing.assert_array_equal(spec.box, [0, 2, 30, 48])  # clipped to the image
    assert spec.mask is None
    assert set(spec.tracker_kwargs()) == {"points", "labels", "box", "mask"}
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[10:20, 5:15] = 1
    spec = check(prompt(mask=fill_image(Image(), mask, "mono8")))
    np.testing.assert_array_equal(spec.mask, mask != 0)
    assert spec.points is None and spec.box is None
    with pytest.raises(PromptError, match="points and/or a box, or a mask, not both"):
        check(prompt(points=[(3, 4)], mask=fill_image(Image(), mask, "mono8")))


@pytest.mark.parametrize(
    ("msg", "needle"),
    [
        (prompt(points=[(math.nan, 3)]), "NaN or infinite"),
        (prompt(points=[(2, math.inf)]), "NaN or infinite"),
        (prompt(points=[(2, 3), (4, 5)], labels=[1]), "2 points but 1 point_labels"),
        (prompt(points=[(2, 3)], labels=[2]), "must be 1 \\(foreground\\) or 0 \\(background\\), got 2"),
        (prompt(points=[(2, 3)], labels=[-1]), "got -1"),
        (prompt(points=[(65, 3)]), "point 0 \\(65, 3\\) lies outside the 64 x 48 image"),
        (prompt(box=(1, 2, 3)), "box must be empty or \\[x_min, y_min, x_max, y_max\\], got 3 values"),
        (prompt(box=(1, 2, 3, 4, 5)), "got 5 values"),
        (prompt(box=(10, 2, 3, 8)), "inverted or empty"),
        (prompt(box=(1, 9, 5, 8)), "inverted or empty"),
        (prompt(box=(1, math.nan, 5, 8)), "NaN or infinite"),
        (prompt(box=(70, 1, 80, 5)), "lies outside the 64 x 48 image"),
        (prompt(object_id=0, points=[(1, 1)]), "object_id must be in 1..65535"),
        (prompt(object_id=-3, points=[(1, 1)]), "got -3"),
        (prompt(object_id=70000, points=[(1, 1)]), "object_id must be in 1..65535"),
        (prompt(), "no points, box or mask"),
    ],
)
def test_bad_prompts_are_rejected_with_the_reason(msg, needle):
    with pytest.raises(PromptError, match=needle):
        check(msg)


def test_masks_of_the_wrong_size_or_encoding_or_empty_are_rejected():
    small = fill_image(Image(), np.ones((10, 10), dtype=np.uint8), "mono8")
    with pytest.raises(PromptError, match="bad mask: mask is 10 x 10 but the image is 64 x 48"):
        check(prompt(mask=small))
    colour = fill_image(Image(), np.ones((48, 64, 3), dtype=np.uint8), "rgb8")
    with pytest.raises(PromptError, match="mask encoding must be mono8, got 'rgb8'"):
        check(prompt(mask=colour))
    broken = Image(height=48, width=64, encoding="mono8", step=64)  # no data
    with pytest.raises(PromptError, match="bad mask: image data has 0 bytes"):
        check(prompt(mask=broken))
    empty = fill_image(Image(), np.zeros((48, 64), dtype=np.uint8), "mono8")
    with pytest.raises(PromptError, match="no non-zero pixel"):
        check(prompt(mask=empty))
    assert not check(prompt(mask=empty), known_ids=[1]).mask.any()  # a refinement may erase


def test_max_objects_counts_only_new_ids():
    with pytest.raises(PromptError, match="cannot add object 3: already tracking 2 objects \\(max_objects is 2\\)"):
        check(prompt(object_id=3, points=[(1, 1)]), known_ids=[1, 2], max_objects=2)
    assert check(prompt(object_id=2, points=[(1, 1)], label=""), known_ids=[1, 2], max_objects=2).label == ""


def test_prompt_before_any_image_is_rejected():
    with pytest.raises(PromptError, match="no image received yet"):
        validate_prompt(prompt(points=[(1, 1)]), frame=None)


def test_prompt_age_is_measured_in_image_time():
    latest = 100 * 10**9
    check_prompt_age(0, latest, 1.0)  # zero stamp: the latest image
    check_prompt_age(latest - 10**9, latest, 1.0)  # exactly at the limit
    check_prompt_age(latest + 5 * 10**9, latest, 1.0)  # newer than the latest image: fine
    check_prompt_age(1, latest, 0.0)  # 0 disables the check
    with pytest.raises(PromptError, match="1.500 s before the latest image \\(100.000 s\\); max_prompt_age_s is 1"):
        check_prompt_age(latest - 1_500_000_000, latest, 1.0)
    old = prompt(points=[(1, 1)], stamp=(3, 0))
    with pytest.raises(PromptError, match="before the latest image"):
        check(old, max_prompt_age_s=2.0)  # frame stamp is 10 s
    with pytest.raises(PromptError, match="before the latest image"):
        check(prompt(points=[(1, 1)], stamp=(9, 0)), latest_stamp_ns=12 * 10**9, max_prompt_age_s=2.0)
    assert check(prompt(points=[(1, 1)], stamp=(9, 0)), max_prompt_age_s=2.0).object_id == 1
    assert stamp_to_ns(Time(sec=3, nanosec=5)) == 3_000_000_005


def test_clicks_become_one_foreground_point():
    spec = prompt_from_click(12.0, 30.0, object_id=4, frame=FRAME, source="rqt")
    np.testing.assert_array_equal(spec.points, [[12.0, 30.0]])
    np.testing.assert_array_equal(spec.point_labels, [1])
    assert spec.box is None and spec.mask is None and spec.source == "rqt"
    with pytest.raises(PromptError, match="no image received yet"):
        prompt_from_click(1, 1, object_id=1, frame=None)
    with pytest.raises(PromptError, match="click \\(100, 3\\) lies outside"):
        prompt_from_click(100, 3, object_id=1, frame=FRAME)
    with pytest.raises(PromptError, match="not a finite pixel"):
        prompt_from_click(math.nan, 3, object_id=1, frame=FRAME)
    with pytest.raises(PromptError, match="max_objects is 1"):
        prompt_from_click(1, 1, object_id=2, frame=FRAME, known_ids=[1], max_objects=1)


def test_click_target_by_mode():
    assert click_target("new_object", [1, 2], 2, 3) == 3
    assert click_target("refine", [1, 2], 1, 3) == 1
    assert click_target("refine", [1, 2], None, 3) == 2  # last added gone: newest remaining
    assert click_target("refine", [], None, 1) == 1  # nothing to refine: a new object
    with pytest.raises(PromptError, match="click_mode must be one of"):
        click_target("paint", [], None, 1)


def camera_info(width=640, height=480, d=(), model="plumb_bob", frame_id="cam") -> CameraInfo:
    info = CameraInfo(width=width, height=height, distortion_model=model)
    info.header.frame_id = frame_id
    info.k = [500.0, 0.0, 320.0, 0.0, 400.0, 240.0, 0.0, 0.0, 1.0]
    info.p = [450.0, 0.0, 300.0, 0.0, 0.0, 450.0, 250.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = list(d)
    return info


def test_pinhole_projection_with_k_and_with_p():
    frame = FrameInfo(640, 480, 0, "cam")
    camera = CameraModel.from_camera_info(camera_info())
    u, v = project_click((0.2, -0.1, 2.0), camera, frame)
    assert (u, v) == pytest.approx((320 + 500 * 0.1, 240 - 400 * 0.05))  # tolerance: float rounding
    u, v = project_click((0.2, -0.1, 2.0), camera, frame, rectified=True)
    assert (u, v) == pytest.approx((300 + 450 * 0.1, 250 - 450 * 0.05))


def test_projection_scales_to_the_image_size_and_applies_distortion():
    camera = CameraModel.from_camera_info(camera_info())
    u, v = project_click((0.2, -0.1, 2.0), camera, FrameInfo(320, 240, 0, "cam"))
    assert (u, v) == pytest.approx((185.0, 110.0))  # half of (370, 220)
    d = (-0.2, 0.05, 0.001, -0.002, 0.0)
    distorted = CameraModel.from_camera_info(camera_info(d=d))
    u, v = project_click((0.3, 0.2, 1.5), distorted, FrameInfo(640, 480, 0, "cam"))
    expected, _ = cv2.projectPoints(np.array([[0.3, 0.2, 1.5]]), np.zeros(3), np.zeros(3), distorted.k, np.array(d))
    assert (u, v) == pytest.approx(tuple(expected[0, 0]), abs=1e-9)  # tolerance: same OpenCV call
    assert (u, v) != pytest.approx((420.0, 293.3), abs=0.5)  # distortion moved it off the pinhole pixel


def test_bad_clicks_are_rejected():
    camera = CameraModel.from_camera_info(camera_info())
    frame = FrameInfo(640, 480, 0, "cam")
    with pytest.raises(PromptError, match="behind the camera"):
        project_click((0.0, 0.0, -1.0), camera, frame)
    with pytest.raises(PromptError, match="behind the camera"):
        project_click((0.0, 0.0, 0.0), camera, frame)
    with pytest.raises(PromptError, match="outside the 640 x 480 image"):
        project_click((5.0, 0.0, 1.0), camera, frame)
    with pytest.raises(PromptError, match="NaN or infinite"):
        project_click((math.nan, 0.0, 1.0), camera, frame)
    with pytest.raises(PromptError, match="no image received yet"):
        project_click((0.0, 0.0, 1.0), camera, None)
    no_k = camera_info()
    no_k.k = [0.0] * 9
    with pytest.raises(PromptError, match="no valid intrinsics"):
        CameraModel.from_camera_info(no_k)


def test_transform_point_rotates_then_translates():
    quarter_turn_z = (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4))
    out = transform_point((1.0, 0.0, 0.0), (0.0, 0.0, 2.0), quarter_turn_z)
    np.testing.assert_allclose(out, [0.0, 1.0, 2.0], atol=1e-12)  # tolerance: float rounding
    identity = transform_point((1.0, 2.0, 3.0), (0.5, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    np.testing.assert_allclose(identity, [1.5, 2.0, 3.0])
