# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Frames for the video_source node: a video file, an image folder, or a synthetic scene. No rclpy.

Every source yields ``H x W x 3`` uint8 RGB frames one at a time (``read()``, None at the end)
and can start over (``rewind()``), so the node only adds timing and messages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from sam2_core.synthetic import SceneConfig, SyntheticScene

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SYNTHETIC = "synthetic"


class FrameReadError(ValueError):
    """One frame could not be read (an unreadable image file); the source itself is still usable."""


def _natural_key(path: Path) -> list[int | str]:
    """Sort key that orders frame2.png before frame10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files directly in ``folder``, in natural order (frame2 before frame10).

    Raises FileNotFoundError when the folder does not exist and ValueError when it holds no image.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder '{folder}' does not exist or is not a directory")
    files = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise ValueError(f"image folder '{folder}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return sorted(files, key=_natural_key)


def fit_frame(rgb: np.ndarray, width: int = 0, height: int = 0) -> np.ndarray:
    """``rgb`` resized to ``width x height`` (0 keeps that side; one 0 keeps the aspect ratio)."""
    h, w = rgb.shape[:2]
    if width <= 0 and height <= 0:
        return rgb
    if width <= 0:
        width = max(1, round(w * height / h))
    if height <= 0:
        height = max(1, round(h * width / w))
    if (width, height) == (w, h):
        return rgb
    shrinking = width * height < w * h
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """OpenCV's BGR, BGRA or grey image as contiguous ``H x W x 3`` RGB."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class FrameSource:
    """Base class: ``read()`` the next frame (None at the end), ``rewind()`` to the first.

    ``index`` is the position of the frame ``read()`` returned last (-1 before the first).
    """

    description = "frames"
    length: int | None = None  # number of frames when known

    def __init__(self) -> None:
        self.index = -1

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def rewind(self) -> None:
        self.index = -1

    def close(self) -> None:
        pass


class ImageFolderSource(FrameSource):
    """The images of a folder in natural order; an unreadable file raises FrameReadError and is skipped."""

    def __init__(self, folder: str | os.PathLike) -> None:
        super().__init__()
        self.files = list_image_files(folder)
        self.length = len(self.files)
        self.description = f"image folder {folder} ({self.length} images)"

    def read(self) -> np.ndarray | None:
        if self.index + 1 >= len(self.files):
            return None
        self.index += 1
        path = self.files[self.index]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise FrameReadError(f"cannot decode image file {path}")
        if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the high byte
            image = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else cv2.convertScaleAbs(image)
        return to_rgb(image)


class VideoFileSource(FrameSource):
    """The frames of a video file OpenCV can decode."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = os.path.expanduser(os.fspath(path))
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"video file '{path}' does not exist or is not a file")
        self._capture = cv2.VideoCapture(self.path)
        if not self._capture.isOpened():
            raise ValueError(f"OpenCV cannot open '{path}' as a video")
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.length = count if count > 0 else None  # container estimates; reading is the truth
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        ok, first = self._capture.read()
        if not ok or first is None:
            raise ValueError(f"video file '{path}' has no frame OpenCV can decode")
        self._first: np.ndarray | None = first
        self.description = f"video file {path}"

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                return None
        self.index += 1
        return to_rgb(frame)

    def rewind(self) -> None:
        super().rewind()
        # seeking is unreliable for some codecs; reopening always starts at the first frame
        self._capture.release()
        self._capture = cv2.VideoCapture(self.path)
        self._first = None

    def close(self) -> None:
        self._capture.release()


class SyntheticSource(FrameSource):
    """``num_frames`` frames of ``SyntheticScene(seed, config)``; ``ground_truth(i)`` gives its masks,
    ``depth()`` the exact depth of the frame read last."""

    def __init__(self, seed: int, config: SceneConfig) -> None:
        super().__init__()
        self.scene = SyntheticScene(seed, config)
        self._label: np.ndarray | None = None  # the label map of the frame read last
        self.length = config.num_frames
        self.description = (
            f"synthetic scene (seed {seed}, {config.scenario}, {len(self.scene.obj_ids)} objects,"
            f" {config.width} x {config.height}, {config.num_frames} frames)"
        )

    def read(self) -> np.ndarray | None:
        if self.index + 1 >= self.length:
            return None
        self.index += 1
        rgb, self._label = self.scene.render(self.index)
        return rgb

    def depth(self) -> np.ndarray:
        """``H x W`` float32 exact depth in metres of the frame ``read()`` returned last."""
        if self.index < 0:
            raise ValueError("no frame read yet")
        return self.scene.depth(self.index, self._label)

    def ground_truth(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index``'s masks (``K x H x W`` bool, object k in row k - 1) and visibility (``K``)."""
        _, masks, visible = self.scene.frame(index)
        return masks, visible


def scene_config(
    *, width: int = 0, height: int = 0, num_frames: int = 120, scenario: str = "random", num_objects: int = 3
) -> SceneConfig:
    """SceneConfig for the synthetic source (0 x 0 = 640 x 480; exactly ``num_objects`` objects)."""
    return SceneConfig(
        height=height or 480,
        width=width or 640,
        num_frames=num_frames,
        scenario=scenario,
        num_objects=(num_objects, num_objects),
    )


def open_source(
    source: str,
    *,
    seed: int = 0,
    scenario: str = "random",
    num_objects: int = 3,
    num_frames: int = 120,
    width: int = 0,
    height: int = 0,
) -> FrameSource:
    """``synthetic``, an image folder or a video file, by what ``source`` names.

    The synthetic scene is rendered at ``width x height`` directly; the other keyword arguments
    apply to it only. FileNotFoundError / ValueError say what is wrong with the source.
    """
    if source == SYNTHETIC:
        config = scene_config(
            width=width, height=height, num_frames=num_frames, scenario=scenario, num_objects=num_objects
        )
        return SyntheticSource(seed, config)
    if not source:
        raise ValueError("source is empty: give a video file, an image folder or 'synthetic'")
    path = os.path.expanduser(source)
    if os.path.isdir(path):
        return ImageFolderSource(path)
    if os.path.isfile(path):
        return VideoFileSource(path)
    raise FileNotFoundError(f"source '{source}' is neither 'synthetic' nor an existing video file or image folder")
