# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""rosbags message types for the label tool: ROS's standard types plus sam2_ros's, read from its msg/ files.

No rclpy: ``rosbags`` parses the ``.msg`` definitions and serialises CDR itself. Our types are
registered from the files at run time (never hard-coded), so fields added to ``msg/`` are
written too; ``default_message`` fills every field with its zero value.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

import sam2_ros

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
TRACKED_OBJECT = "sam2_ros/msg/TrackedObject"
TRACKED_OBJECT_ARRAY = "sam2_ros/msg/TrackedObjectArray"
_PROBE = "TrackedObjectArray.msg"

_NUMPY_TYPES = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
    "int64": np.int64, "uint64": np.uint64, "float32": np.float32, "float64": np.float64,
}  # fmt: skip


def find_msg_dir() -> Path | None:
    """The folder holding sam2_ros's ``.msg`` files: the source tree's ``msg/``, an install's
    ``share/sam2_ros/msg`` (colcon, or pip's data files), or None."""
    candidates = []
    for package_dir in getattr(sam2_ros, "__path__", []):  # source tree and/or install space
        here = Path(package_dir).resolve()
        candidates.append(here.parent / "msg")
        candidates += [parent / "share" / "sam2_ros" / "msg" for parent in here.parents]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / "sam2_ros" / "msg")
    candidates.append(Path(sys.prefix) / "share" / "sam2_ros" / "msg")
    return next((c for c in candidates if (c / _PROBE).is_file()), None)


@cache
def typestore() -> Any:
    """A rosbags typestore with ROS 2's standard types and, when its msg/ files are found, sam2_ros's."""
    store = get_typestore(Stores.LATEST)
    folder = find_msg_dir()
    if folder is not None:
        types: dict = {}
        for path in sorted(folder.glob("*.msg")):
            types.update(get_types_from_msg(path.read_text(), f"sam2_ros/msg/{path.stem}"))
        store.register(types)
    return store


def require_sam2_types() -> Any:
    """The typestore, or LabelInputError-worthy ValueError when sam2_ros's msg/ files were not found."""
    store = typestore()
    if TRACKED_OBJECT_ARRAY not in store.fielddefs:
        raise ValueError(
            "the bag output needs sam2_ros's message definitions (msg/*.msg), found neither beside the "
            "package nor in share/sam2_ros/msg of an install (AMENT_PREFIX_PATH, this Python's prefix)"
        )
    return store


def _default_value(store: Any, nodetype: int, detail: Any) -> Any:
    if nodetype == Nodetype.BASE:
        name = detail[0]
        if name == "string":
            return ""
        return False if name == "bool" else (0.0 if name.startswith("float") else 0)
    if nodetype == Nodetype.NAME:
        return default_message(store, detail)
    (sub_type, sub_detail), length = detail
    numeric = sub_type == Nodetype.BASE and sub_detail[0] in _NUMPY_TYPES
    if nodetype == Nodetype.ARRAY:
        if numeric:
            return np.zeros(length, dtype=_NUMPY_TYPES[sub_detail[0]])
        return [_default_value(store, sub_type, sub_detail) for _ in range(length)]
    return np.zeros(0, dtype=_NUMPY_TYPES[sub_detail[0]]) if numeric else []  # a sequence


def default_message(store: Any, msgtype: str, **values: Any) -> Any:
    """A ``msgtype`` message with every field at its zero value, then ``values`` set (unknown names: KeyError)."""
    _, fields = store.fielddefs[msgtype]
    cls = store.types[msgtype]
    names = [f.name for f in dataclasses.fields(cls) if f.name != "__msgtype__"]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise KeyError(f"{msgtype} has no field(s) {unknown}")
    defaults = [_default_value(store, nodetype, detail) for _, (nodetype, detail) in fields]
    return cls(*[values.get(name, default) for name, default in zip(names, defaults)])


def header_stamp_ns(raw: bytes | memoryview) -> int:
    """The header stamp (ns) of a serialised Image / CompressedImage, read without deserialising the pixels.

    CDR starts with a 4-byte encapsulation header (byte 1: 0 big, 1 little endian); the message's
    first field is std_msgs/Header, whose first field is builtin_interfaces/Time (int32 sec, uint32 nanosec).
    """
    order = "<" if raw[1] & 1 else ">"
    sec, nanosec = struct.unpack_from(order + "iI", raw, 4)
    return sec * 1_000_000_000 + nanosec
