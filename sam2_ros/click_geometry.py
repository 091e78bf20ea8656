# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Clicks given as 3D points (RViz "Publish Point"): camera projection and rigid transforms.

Pure maths on message-like objects (no rclpy, no tf2): the node looks up the transform and the
latest camera_info, these functions turn a point into a pixel of the latest image or a
PromptError saying why it cannot be one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.prompts import FrameInfo, PromptError, check_inside


@dataclass(frozen=True)
class CameraModel:
    """The parts of sensor_msgs/CameraInfo needed to project a 3D point to a pixel."""

    width: int
    height: int
    k: np.ndarray  # 3 x 3 intrinsics of the raw (distorted) image
    p: np.ndarray  # 3 x 4 projection of the rectified image
    d: np.ndarray  # distortion coefficients
    distortion_model: str
    frame_id: str

    @classmethod
    def from_camera_info(cls, msg: Any) -> CameraModel:
        k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
        if not (np.isfinite(k).all() and k[0, 0] > 0 and k[1, 1] > 0):
            raise PromptError("camera_info has no valid intrinsics (K is zero or not finite)")
        return cls(
            width=int(msg.width),
            height=int(msg.height),
            k=k,
            p=np.asarray(msg.p, dtype=np.float64).reshape(3, 4),
            d=np.asarray(msg.d, dtype=np.float64),
            distortion_model=str(msg.distortion_model),
            frame_id=str(msg.header.frame_id),
        )


def _project(xyz: np.ndarray, camera: CameraModel, rectified: bool) -> tuple[float, float]:
    if rectified and camera.p[0, 0] > 0 and camera.p[1, 1] > 0:
        u, v, w = camera.p @ np.append(xyz, 1.0)
        return float(u / w), float(v / w)
    if (
        camera.d.size
        and np.any(camera.d != 0)
        and camera.distortion_model
        in (
            "plumb_bob",
            "rational_polynomial",
            "equidistant",
        )
    ):
        import cv2

        point = xyz.reshape(1, 1, 3)
        zero = np.zeros(3)
        if camera.distortion_model == "equidistant":
            pixel, _ = cv2.fisheye.projectPoints(point, zero, zero, camera.k, camera.d[:4])
        else:
            pixel, _ = cv2.projectPoints(point, zero, zero, camera.k, camera.d)
        return float(pixel[0, 0, 0]), float(pixel[0, 0, 1])
    u, v, w = camera.k @ xyz
    return float(u / w), float(v / w)


def project_click(
    xyz: Sequence[float], camera: CameraModel, frame: FrameInfo | None, *, rectified: bool = False
) -> tuple[float, float]:
    """Pixel (x, y) on the latest image of a 3D point in the camera's optical frame (z forward).

    Uses K and the distortion coefficients (or P when ``rectified``), then scales from the
    camera_info resolution to the image's when they differ. Rejects points behind the camera
    and points that fall outside the image.
    """
    if frame is None:
        raise PromptError("no image received yet; clicks refer to the latest image")
    point = np.asarray(xyz, dtype=np.float64)
    if not np.isfinite(point).all():
        raise PromptError("clicked point has NaN or infinite coordinates")
    if point[2] <= 0:
        raise PromptError(f"clicked point is behind the camera (z = {point[2]:.3f} m in the optical frame)")
    u, v = _project(point, camera, rectified)
    if camera.width > 0 and camera.height > 0 and (camera.width, camera.height) != (frame.width, frame.height):
        u, v = u * frame.width / camera.width, v * frame.height / camera.height
    if not (math.isfinite(u) and math.isfinite(v)):
        raise PromptError("clicked point does not project to a finite pixel")
    check_inside(u, v, frame, "clicked point projects to pixel")
    return u, v


def transform_point(xyz: Sequence[float], translation: Sequence[float], rotation_xyzw: Sequence[float]) -> np.ndarray:
    """Apply a rigid transform (translation, unit quaternion x, y, z, w) to a 3D point."""
    v = np.asarray(xyz, dtype=np.float64)
    q = np.asarray(rotation_xyzw[:3], dtype=np.float64)
    w = float(rotation_xyzw[3])
    t = 2.0 * np.cross(q, v)  # v' = v + w t + q x t: the rotation without building a matrix
    return v + w * t + np.cross(q, t) + np.asarray(translation, dtype=np.float64)
