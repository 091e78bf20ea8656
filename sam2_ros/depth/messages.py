# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Messages for objects in 3-D: TrackedObject's position fields, the PointCloud2, box markers and TF frames.

Pure functions (message types only, no rclpy), built from depth.geometry.Object3D and tested
with plain calls. Everything is in the image's optical frame and carries the image's header.
"""

from __future__ import annotations

import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, TransformStamped, Vector3
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker

from sam2_ros.depth.geometry import Object3D
from sam2_ros.outputs import colour_for_id

BOX_NAMESPACE = "sam2_objects_3d"
LABEL_NAMESPACE = "sam2_labels"  # the same namespace as the flat markers' captions
MIN_BOX_SIZE_M = 0.005  # a flat object still draws as a visible box (the message keeps its true size)

# ~/points layout: x, y, z float32, object_id uint16, rgb (PCL's convention: the bits of 0x00RRGGBB in a
# field declared FLOAT32), little-endian
POINT_DTYPE = np.dtype(
    {"names": ["x", "y", "z", "object_id", "rgb"], "formats": ["<f4", "<f4", "<f4", "<u2", "<u4"],
     "offsets": [0, 4, 8, 12, 16], "itemsize": 20}
)  # fmt: skip
POINT_FIELDS = (
    ("x", 0, PointField.FLOAT32),
    ("y", 4, PointField.FLOAT32),
    ("z", 8, PointField.FLOAT32),
    ("object_id", 12, PointField.UINT16),
    ("rgb", 16, PointField.FLOAT32),
)


def fill_position(msg: Any, obj: Object3D | None) -> Any:
    """Set a TrackedObject's has_position, position, size and depth_points from ``obj``; returns ``msg``.

    With no measurement (None) or no valid depth, has_position is false and the fields stay zero.
    """
    if obj is None or obj.position is None:
        msg.has_position = False
        return msg
    msg.has_position = True
    x, y, z = (float(v) for v in obj.position)
    msg.position = Point(x=x, y=y, z=z)
    sx, sy, sz = (float(v) for v in obj.size)
    msg.size = Vector3(x=sx, y=sy, z=sz)
    msg.depth_points = int(obj.depth_points)
    return msg


def fill_positions(objects_msg: Any, measured: Mapping[int, Object3D]) -> Any:
    """fill_position for every object of a TrackedObjectArray (by id; missing ids get no position)."""
    for msg in objects_msg.objects:
        fill_position(msg, measured.get(int(msg.id)))
    return objects_msg


def point_cloud(header: Any, objects: Iterable[Object3D], rgb: np.ndarray | None = None) -> PointCloud2:
    """An unorganised PointCloud2 (height 1) of every object's points, fields as POINT_FIELDS.

    rgb: the H x W x 3 uint8 colour image the points were taken from (their colour), or None
    (the object's palette colour instead).
    """
    objects = [obj for obj in objects if len(obj.points)]
    # one preallocated array: concatenating padded structured arrays would drop the padding
    points = np.zeros(sum(len(obj.points) for obj in objects), dtype=POINT_DTYPE)
    start = 0
    for obj in objects:
        chunk = points[start : start + len(obj.points)]
        start += len(obj.points)
        chunk["x"], chunk["y"], chunk["z"] = obj.points[:, 0], obj.points[:, 1], obj.points[:, 2]
        chunk["object_id"] = obj.object_id
        if rgb is not None:
            vs, us = obj.pixels
            colours = np.asarray(rgb[vs, us], dtype=np.uint32)
        else:
            colours = np.array([colour_for_id(obj.object_id)], dtype=np.uint32)
        chunk["rgb"] = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    msg = PointCloud2(header=header, height=1, width=int(len(points)))
    msg.fields = [PointField(name=name, offset=offset, datatype=kind, count=1) for name, offset, kind in POINT_FIELDS]
    msg.is_bigendian = False  # written little-endian explicitly (POINT_DTYPE)
    msg.point_step = POINT_DTYPE.itemsize
    msg.row_step = msg.point_step * msg.width
    msg.is_dense = True  # only valid points are listed
    msg.data = array.array("B", points.tobytes())
    return msg


def box_markers(header: Any, objects: Sequence[Object3D], names: Mapping[int, str]) -> list[Marker]:
    """Per object with a position: a translucent CUBE of its size at its position (BOX_NAMESPACE, id = object
    id) and its "id label" caption just above the box (LABEL_NAMESPACE)."""
    markers = []
    for obj in objects:
        if obj.position is None:
            continue
        r, g, b = colour_for_id(obj.object_id)
        x, y, z = (float(v) for v in obj.position)
        size = np.maximum(np.asarray(obj.size, dtype=np.float64), MIN_BOX_SIZE_M)
        box = Marker(header=header, ns=BOX_NAMESPACE, id=int(obj.object_id), type=Marker.CUBE, action=Marker.ADD)
        box.pose.position = Point(x=x, y=y, z=z)
        box.pose.orientation.w = 1.0
        box.scale = Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2]))
        box.color = ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=0.5)
        text = Marker(header=header, ns=LABEL_NAMESPACE, id=int(obj.object_id), type=Marker.TEXT_VIEW_FACING)
        text.action = Marker.ADD
        text.pose.position = Point(x=x, y=y - float(size[1]) / 2 - 0.03 * z, z=z)  # y points down: above
        text.pose.orientation.w = 1.0
        text.scale.z = 0.05 * z
        text.color = ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=1.0)
        text.text = f"{obj.object_id} {names.get(obj.object_id, '')}".strip()
        markers += [box, text]
    return markers


def tf_frame_name(prefix: str, object_id: int) -> str:
    """The TF frame of an object: ``<prefix>object_<id>``."""
    return f"{prefix}object_{int(object_id)}"


def object_transforms(header: Any, objects: Iterable[Object3D], prefix: str = "") -> list[TransformStamped]:
    """One TransformStamped per object with a position: child ``<prefix>object_<id>`` of the image's frame,
    at the object's position, not rotated, stamped with the image's stamp."""
    transforms = []
    for obj in objects:
        if obj.position is None:
            continue
        t = TransformStamped()
        t.header.stamp = header.stamp
        t.header.frame_id = header.frame_id
        t.child_frame_id = tf_frame_name(prefix, obj.object_id)
        x, y, z = (float(v) for v in obj.position)
        t.transform.translation = Vector3(x=x, y=y, z=z)
        t.transform.rotation.w = 1.0
        transforms.append(t)
    return transforms
