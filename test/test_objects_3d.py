# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""3-D messages: TrackedObject's position fields, the PointCloud2 layout, box markers and TF frames (no rclpy.init)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from sam2_ros.msg import TrackedObject, TrackedObjectArray
from sensor_msgs.msg import PointField
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from sam2_ros.depth.geometry import Object3D
from sam2_ros.depth.messages import (
    BOX_NAMESPACE,
    MIN_BOX_SIZE_M,
    box_markers,
    fill_position,
    fill_positions,
    object_transforms,
    point_cloud,
    tf_frame_name,
)
from sam2_ros.outputs import colour_for_id

HAVE_SENSOR_MSGS_PY = importlib.util.find_spec("sensor_msgs_py") is not None
SIZES = {PointField.FLOAT32: ("f4", 4), PointField.UINT16: ("u2", 2), PointField.UINT32: ("u4", 4)}


def header() -> Header:
    h = Header(frame_id="camera_color_optical_frame")
    h.stamp.sec, h.stamp.nanosec = 12, 345
    return h


def measured(object_id: int, position=(0.1, -0.2, 1.5), n: int = 3) -> Object3D:
    points = np.array([[0.1 * i, -0.2, 1.5 + 0.01 * i] for i in range(n)], np.float32)
    return Object3D(
        object_id, position=np.array(position), size=np.array([0.2, 0.0, 0.02]), depth_points=40 * n,
        points=points, pixels=(np.arange(n), np.arange(n) + 2),
    )  # fmt: skip


def read_cloud(msg) -> dict[str, np.ndarray]:
    """Every field of a PointCloud2, read by its declared offset and type (no sensor_msgs_py needed)."""
    data = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height * msg.width, msg.point_step)
    order = ">" if msg.is_bigendian else "<"
    out = {}
    for f in msg.fields:
        code, size = SIZES[f.datatype]
        out[f.name] = data[:, f.offset : f.offset + size].copy().view(order + code).ravel()
    return out


def test_position_fields_are_filled_only_with_a_position():
    msg = fill_position(TrackedObject(id=4), measured(4))
    assert msg.has_position and msg.depth_points == 120
    assert (msg.position.x, msg.position.y, msg.position.z) == (0.1, -0.2, 1.5)
    assert (msg.size.x, msg.size.y, msg.size.z) == (0.2, 0.0, 0.02)
    for none in (None, Object3D(4)):
        empty = fill_position(TrackedObject(id=4), none)
        assert not empty.has_position and empty.depth_points == 0 and empty.position.z == 0.0
    array = fill_positions(TrackedObjectArray(objects=[TrackedObject(id=4), TrackedObject(id=5)]), {4: measured(4)})
    assert [o.has_position for o in array.objects] == [True, False]


def test_point_cloud_layout_fields_offsets_and_colours():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[0, 2] = (255, 0, 0)
    rgb[1, 3] = (0, 255, 0)
    rgb[2, 4] = (1, 2, 3)
    msg = point_cloud(header(), [measured(4), Object3D(6), measured(9, n=2)], rgb)
    assert msg.header.frame_id == "camera_color_optical_frame" and msg.header.stamp.nanosec == 345
    layout = [(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
    assert layout == [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("object_id", 12, 4, 1), ("rgb", 16, 7, 1)]
    assert (msg.height, msg.width, msg.point_step, msg.row_step, msg.is_dense) == (1, 5, 20, 100, True)
    cloud = read_cloud(msg)
    np.testing.assert_array_equal(cloud["object_id"], [4, 4, 4, 9, 9])
    np.testing.assert_allclose(cloud["z"], [1.5, 1.51, 1.52, 1.5, 1.51], rtol=1e-6)
    packed = cloud["rgb"].view(np.uint32)  # PCL's convention: 0x00RRGGBB in the float's bits
    assert [hex(v) for v in packed[:3]] == ["0xff0000", "0xff00", "0x10203"]
    without_image = read_cloud(point_cloud(header(), [measured(4, n=1)]))["rgb"].view(np.uint32)[0]
    r, g, b = colour_for_id(4)
    assert without_image == (r << 16) | (g << 8) | b
    empty = point_cloud(header(), [Object3D(1)], rgb)
    assert empty.width == 0 and len(empty.data) == 0 and len(empty.fields) == 5


@pytest.mark.skipif(
    not HAVE_SENSOR_MSGS_PY, reason="sensor_msgs_py is not installed (no PyPI wheel); read by offsets above"
)
def test_point_cloud_reads_back_with_sensor_msgs_py():
    from sensor_msgs_py import point_cloud2

    msg = point_cloud(header(), [measured(4), measured(9, n=2)], np.zeros((8, 8, 3), np.uint8))
    points = point_cloud2.read_points_list(msg, field_names=["x", "y", "z", "object_id"])
    assert [int(p.object_id) for p in points] == [4, 4, 4, 9, 9]
    np.testing.assert_allclose([p.x for p in points], read_cloud(msg)["x"])


def test_box_markers_sit_at_the_positions_with_the_sizes():
    markers = box_markers(header(), [measured(4), Object3D(6), measured(9, position=(0.0, 0.0, 2.0))], {4: "mug"})
    boxes = [m for m in markers if m.ns == BOX_NAMESPACE]
    assert [(m.id, m.type, m.action) for m in boxes] == [(4, Marker.CUBE, Marker.ADD), (9, Marker.CUBE, Marker.ADD)]
    box = boxes[0]
    assert (box.pose.position.x, box.pose.position.y, box.pose.position.z) == (0.1, -0.2, 1.5)
    assert (box.scale.x, box.scale.y, box.scale.z) == (0.2, MIN_BOX_SIZE_M, 0.02)  # flat sides still drawn
    assert box.header.frame_id == "camera_color_optical_frame" and 0 < box.color.a < 1
    texts = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert [t.text for t in texts] == ["4 mug", "9"] and texts[0].pose.position.y < box.pose.position.y


def test_tf_frames_are_children_of_the_image_frame_at_the_positions():
    transforms = object_transforms(header(), [measured(4), Object3D(6), measured(9)], "robot1/")
    assert [t.child_frame_id for t in transforms] == ["robot1/object_4", "robot1/object_9"]
    t = transforms[0]
    assert t.header.frame_id == "camera_color_optical_frame"
    assert (t.header.stamp.sec, t.header.stamp.nanosec) == (12, 345)
    assert (t.transform.translation.x, t.transform.translation.z, t.transform.rotation.w) == (0.1, 1.5, 1.0)
    assert tf_frame_name("", 3) == "object_3"
