# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pinhole calibrations for camera_info: from a field of view, or from a camera_calibration YAML file.

No rclpy: the message is built from ``sensor_msgs`` alone, so everything here is tested with
plain calls.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Any

import yaml


@dataclass(frozen=True)
class Calibration:
    """What sensor_msgs/CameraInfo carries besides the header (row-major matrices, pixels).

    k: 3 x 3 intrinsics (9 values); d: distortion coefficients; r: 3 x 3 rectification
    (9 values); p: 3 x 4 projection (12 values).
    """

    width: int
    height: int
    k: tuple[float, ...]
    d: tuple[float, ...] = ()
    r: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    p: tuple[float, ...] = ()
    distortion_model: str = "plumb_bob"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"calibration size must be positive, got {self.width} x {self.height}")
        if len(self.k) != 9 or len(self.r) != 9 or len(self.p) not in (0, 12):
            raise ValueError("calibration needs 9 values in k and r, and 12 in p")
        if not self.p:  # no projection given: the unrectified camera's own intrinsics, no baseline
            k = self.k
            object.__setattr__(self, "p", (k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0))


def pinhole_calibration(width: int, height: int, fov_deg: float) -> Calibration:
    """An ideal pinhole camera of ``width x height`` pixels with horizontal field of view ``fov_deg``.

    Square pixels (fy = fx), principal point at the image centre ((width - 1) / 2, (height - 1) / 2,
    since pixel centres lie on integer coordinates), no distortion.
    """
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"fov_deg must be in (0, 180), got {fov_deg}")
    f = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return Calibration(width, height, k=(f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0), d=(0.0,) * 5)


def _matrix(data: dict[str, Any], key: str, size: int, path: str) -> tuple[float, ...] | None:
    entry = data.get(key)
    if entry is None:
        return None
    values = entry.get("data") if isinstance(entry, dict) else entry
    if not isinstance(values, list) or (size and len(values) != size):
        raise ValueError(f"calibration file {path}: '{key}' must hold {size or 'a list of'} numbers")
    return tuple(float(v) for v in values)


def load_calibration(path: str | os.PathLike) -> Calibration:
    """Read a camera_calibration / camera_info_manager YAML file (``image_width``, ``camera_matrix``...).

    Raises FileNotFoundError for a missing file and ValueError naming what is wrong in it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"calibration file '{path}' does not exist or is not a file")
    with open(path, encoding="utf-8") as stream:
        try:
            data = yaml.safe_load(stream)
        except yaml.YAMLError as error:
            raise ValueError(f"calibration file {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict) or "camera_matrix" not in data:
        raise ValueError(f"calibration file {path} has no camera_matrix (expected camera_calibration's format)")
    try:
        width, height = int(data["image_width"]), int(data["image_height"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"calibration file {path} needs integer image_width and image_height") from None
    return Calibration(
        width,
        height,
        k=_matrix(data, "camera_matrix", 9, path),
        d=_matrix(data, "distortion_coefficients", 0, path) or (),
        r=_matrix(data, "rectification_matrix", 9, path) or Calibration.r,
        p=_matrix(data, "projection_matrix", 12, path) or (),
        distortion_model=str(data.get("distortion_model", "plumb_bob")),
    )


def scaled_calibration(calibration: Calibration, width: int, height: int) -> Calibration:
    """The calibration of the same camera when its images are resized to ``width x height``.

    Focal lengths and principal points scale with the image (pixel centres at integers, so the
    principal point maps as ``(c + 0.5) * s - 0.5``); distortion and rectification do not change.
    """
    if (width, height) == (calibration.width, calibration.height):
        return calibration
    sx, sy = width / calibration.width, height / calibration.height

    def scale(m: tuple[float, ...], cols: int) -> tuple[float, ...]:
        rows = [list(m[i * cols : (i + 1) * cols]) for i in range(3)]
        rows[0] = [v * sx for v in rows[0]]
        rows[1] = [v * sy for v in rows[1]]
        rows[0][2] += 0.5 * (sx - 1.0) * rows[2][2]  # (c + 0.5) * s - 0.5, with the homogeneous row's 1
        rows[1][2] += 0.5 * (sy - 1.0) * rows[2][2]
        return tuple(v for row in rows for v in row)

    return replace(calibration, width=width, height=height, k=scale(calibration.k, 3), p=scale(calibration.p, 4))


def camera_info_msg(calibration: Calibration, header: Any) -> Any:
    """sensor_msgs/CameraInfo of ``calibration`` with ``header`` (the image's, so stamps match)."""
    from sensor_msgs.msg import CameraInfo

    info = CameraInfo(header=header, width=calibration.width, height=calibration.height)
    info.distortion_model = calibration.distortion_model
    info.d = list(calibration.d)
    info.k = list(calibration.k)
    info.r = list(calibration.r)
    info.p = list(calibration.p)
    return info
