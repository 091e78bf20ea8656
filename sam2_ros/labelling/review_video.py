# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``--video``: a review video of every tracked frame with the node's overlay (tint, outline, "id label")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from sam2_ros.labelling.config import LabelInputError
from sam2_ros.outputs import ObjectGeometry, overlay_image


def resumed_path(path: Path, first_index: int) -> Path:
    """Where a resumed run writes its part of the review video (a video file cannot be appended to)."""
    return path.with_name(f"{path.stem}-from-{first_index:05d}{path.suffix}")


class ReviewVideo:
    """Writes ``overlay_image`` frames to a video file (mp4v; MJPG for .avi), at the source's frame rate."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps if fps > 0 else 10.0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(
        self, rgb: np.ndarray, labels: np.ndarray, geometries: Sequence[ObjectGeometry], names: Mapping[int, str]
    ) -> None:
        frame = overlay_image(rgb, labels, geometries, names)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise LabelInputError(f"cannot write the review video '{self.path}' (OpenCV has no encoder for it)")
        if (frame.shape[1], frame.shape[0]) != self._size:  # the frame size changed: the video's stays
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(frame[..., ::-1]))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
