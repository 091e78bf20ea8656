# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""RViz clicks in other frames than the camera's: tf2 when it is installed, a clear refusal when not.

tf2_ros is not on PyPI, so it is imported here, optionally, when the node activates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sam2_ros.click_geometry import transform_point
from sam2_ros.prompts import PromptError


class ClickFrames:
    """Brings a clicked point (geometry_msgs/PointStamped) into the camera's frame."""

    def __init__(self) -> None:
        self._buffer: Any = None
        self._listener: Any = None

    @property
    def available(self) -> bool:
        return self._buffer is not None

    def start(self, node: Any) -> bool:
        """Listen to /tf with ``node``; False when tf2_ros is not installed."""
        try:
            from tf2_ros import Buffer, TransformListener
        except ImportError:
            return False
        self._buffer = Buffer()
        self._listener = TransformListener(self._buffer, node)
        return True

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.unregister()
        self._listener = self._buffer = None

    def to_camera_frame(self, msg: Any, camera_frame: str) -> np.ndarray:
        """The point in ``camera_frame``; PromptError saying why when it cannot be had."""
        source = msg.header.frame_id
        point = (msg.point.x, msg.point.y, msg.point.z)
        if not source or source == camera_frame:
            return np.asarray(point, dtype=np.float64)
        if self._buffer is None:
            raise PromptError(
                f"it is in frame '{source}', the camera's is '{camera_frame}', and tf2_ros is not installed"
                f" to transform it (set RViz's fixed frame to '{camera_frame}')"
            )
        from rclpy.duration import Duration
        from rclpy.time import Time

        try:
            try:
                transform = self._buffer.lookup_transform(
                    camera_frame, source, Time.from_msg(msg.header.stamp), timeout=Duration(seconds=0.2)
                )
            except Exception:  # no transform at the click's time: the latest will do for a click
                transform = self._buffer.lookup_transform(camera_frame, source, Time())
        except Exception as error:
            raise PromptError(f"no transform from '{source}' to '{camera_frame}': {error}") from None
        t, r = transform.transform.translation, transform.transform.rotation
        return transform_point(point, (t.x, t.y, t.z), (r.x, r.y, r.z, r.w))
