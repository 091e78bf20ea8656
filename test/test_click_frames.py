# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""RViz clicks in other frames: passthrough, via a tf buffer, refused without tf2 (no rclpy.init)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geometry_msgs.msg import PointStamped, TransformStamped

from sam2_ros.click_frames import ClickFrames
from sam2_ros.prompts import PromptError


def click(frame_id: str, x: float, y: float, z: float) -> PointStamped:
    msg = PointStamped()
    msg.header.frame_id = frame_id
    msg.point.x, msg.point.y, msg.point.z = x, y, z
    return msg


class FakeBuffer:
    """tf2_ros.Buffer's lookup_transform: base_link -> camera is a quarter turn about z and 1 m up."""

    def __init__(self, fail_at_stamp: bool = False) -> None:
        self.fail_at_stamp = fail_at_stamp
        self.lookups: list[tuple[str, str]] = []

    def lookup_transform(self, target, source, time, timeout=None):
        self.lookups.append((target, source))
        if (target, source) != ("camera", "base_link"):
            raise LookupError(f'"{source}" passed to lookupTransform argument source_frame does not exist')
        if self.fail_at_stamp and timeout is not None:
            raise LookupError("extrapolation into the future")
        t = TransformStamped()
        t.transform.translation.z = 1.0
        t.transform.rotation.z, t.transform.rotation.w = math.sin(math.pi / 4), math.cos(math.pi / 4)
        return t


def test_clicks_in_the_camera_frame_pass_through_without_tf():
    frames = ClickFrames()
    assert not frames.available
    np.testing.assert_array_equal(frames.to_camera_frame(click("camera", 1, 2, 3), "camera"), [1, 2, 3])
    np.testing.assert_array_equal(frames.to_camera_frame(click("", 1, 2, 3), "camera"), [1, 2, 3])
    with pytest.raises(PromptError, match="in frame 'map', the camera's is 'camera', and tf2_ros is not installed"):
        frames.to_camera_frame(click("map", 1, 2, 3), "camera")


@pytest.mark.parametrize("fail_at_stamp", [False, True])
def test_clicks_in_other_frames_go_through_the_tf_buffer(fail_at_stamp):
    frames = ClickFrames()
    frames._buffer = FakeBuffer(fail_at_stamp)  # what start() makes where tf2_ros is installed
    out = frames.to_camera_frame(click("base_link", 1.0, 0.0, 0.0), "camera")
    np.testing.assert_allclose(out, [0.0, 1.0, 1.0], atol=1e-12)  # tolerance: float rounding
    assert len(frames._buffer.lookups) == (2 if fail_at_stamp else 1)  # then the latest transform
    with pytest.raises(PromptError, match="no transform from 'odom' to 'camera'"):
        frames.to_camera_frame(click("odom", 0, 0, 1), "camera")
    frames.stop()
    assert not frames.available
