# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Frames to label: a ROS 2 bag (read with rosbags, no ROS install needed), a video file or an image folder.

Every source yields ``Frame``s in order: ``index`` (position among the source's images, what a
prompt's ``frame`` counts), ``stamp_ns`` and ``rgb`` (``H x W x 3`` uint8). A bag's stamps are
its images' header stamps (the bag's receive time where a header stamp is zero); a video's and
an image folder's are ``index / fps``. Problems with the source itself raise LabelInputError; a
single frame that cannot be decoded comes as a Frame with ``rgb=None`` and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.frame_sources import FrameReadError, ImageFolderSource, VideoFileSource, list_image_files
from sam2_ros.image_conversion import ENCODINGS, ImageConversionError, compressed_to_rgb, image_to_rgb
from sam2_ros.labelling import bag_types
from sam2_ros.labelling.config import LabelInputError

BAG_SUFFIXES = (".mcap", ".db3")


@dataclass
class Frame:
    """One image of the source."""

    index: int  # position among the source's images (0-based)
    stamp_ns: int
    rgb: np.ndarray | None  # H x W x 3 uint8 RGB; None when this image could not be decoded
    error: str = ""  # why rgb is None
    log_time_ns: int = 0  # bags: when the message was recorded
    header: Any = None  # bags: the image's std_msgs/Header (rosbags message)


def sequence_name(path: str) -> str:
    """A file-name-safe name for the recording at ``path`` (its folder or file stem)."""
    p = Path(path).expanduser().resolve()
    stem = p.name if p.is_dir() else p.stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "sequence"


class LabelSource:
    """Base class: ``frames(first)`` from index ``first`` on, ``stamps_ns()`` of every frame."""

    kind = ""
    description = ""
    length: int | None = None  # number of images when known (a video's is its container's estimate)
    fps: float = 10.0

    def stamps_ns(self) -> list[int]:
        raise NotImplementedError

    def frames(self, first: int = 0) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class BagSource(LabelSource):
    """The images of one sensor_msgs/Image or CompressedImage topic of a ROS 2 bag (sqlite3 or mcap)."""

    kind = "bag"

    def __init__(self, path: str, topic: str | None = None) -> None:
        from rosbags.rosbag2 import Reader

        self.path = Path(path).expanduser()
        self.store = bag_types.typestore()
        try:
            self.reader = Reader(self.path)
            self.reader.open()
        except Exception as error:  # ReaderError, a broken database or mcap file, YAML errors, ...
            raise LabelInputError(f"cannot read bag '{path}': {error}") from None
        images = {}
        for c in self.reader.connections:
            if c.msgtype in bag_types.IMAGE_TYPES:
                images[c.topic] = c.msgtype
        listing = ", ".join(
            f"{t} ({m.rsplit('/', 1)[-1]}, {self._count(t)} messages)" for t, m in sorted(images.items())
        )
        if topic is None:
            if not images:
                others = ", ".join(sorted({f"{c.topic} ({c.msgtype})" for c in self.reader.connections})) or "none"
                raise LabelInputError(
                    f"bag '{path}' has no sensor_msgs/Image or CompressedImage topic (topics: {others})"
                )
            if len(images) > 1:
                raise LabelInputError(f"bag '{path}' has several image topics, choose one with --topic: {listing}")
            topic = next(iter(images))
        elif topic not in images:
            types = {c.topic: c.msgtype for c in self.reader.connections}
            what = f"is {types[topic]}, not an image topic" if topic in types else "is not in the bag"
            raise LabelInputError(f"topic '{topic}' {what}; image topics: {listing or 'none'}")
        self.topic, self.msgtype = topic, images[topic]
        self.connections = [c for c in self.reader.connections if c.topic == topic]
        self.length = self._count(topic)
        self.storage = "mcap" if self._is_mcap() else "sqlite3"
        self.description = f"bag {path}, topic {topic} ({self.msgtype.rsplit('/', 1)[-1]}, {self.length} images)"
        self._stamps: list[int] | None = None
        duration = self.reader.duration / 1e9
        self.fps = (self.length - 1) / duration if self.length > 1 and duration > 0 else 10.0

    def _count(self, topic: str) -> int:
        return sum(c.msgcount for c in self.reader.connections if c.topic == topic)

    def _is_mcap(self) -> bool:
        if self.path.is_file():
            return self.path.suffix == ".mcap"
        return any(p.suffix == ".mcap" for p in self.path.iterdir())

    def stamps_ns(self) -> list[int]:
        if self._stamps is None:
            stamps = []
            for _, log_time, raw in self.reader.messages(connections=self.connections):
                stamps.append(bag_types.header_stamp_ns(raw) or log_time)
            self._stamps = stamps
            if len(stamps) > 1 and stamps[-1] > stamps[0]:
                self.fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)
        return self._stamps

    def decode(self, raw: bytes | memoryview, msgtype: str) -> tuple[Any, np.ndarray | None, str]:
        """(message, RGB or None, why not). Unsupported encodings raise LabelInputError: they are the
        topic's, not one frame's."""
        msg = self.store.deserialize_cdr(raw, msgtype)
        try:
            if msgtype == bag_types.IMAGE:
                if str(msg.encoding) not in ENCODINGS:
                    raise LabelInputError(
                        f"topic '{self.topic}' has unsupported image encoding '{msg.encoding}' "
                        f"(supported: {', '.join(sorted(ENCODINGS))})"
                    )
                # a copy where the message's own bytes would do: they are read-only, the tracker wants its own
                return msg, np.require(image_to_rgb(msg), requirements=("C", "W")), ""
            if "compressedDepth" in str(msg.format):
                raise LabelInputError(
                    f"topic '{self.topic}' holds compressed depth images ('{msg.format}'), not colour"
                )
            return msg, np.ascontiguousarray(compressed_to_rgb(msg)), ""
        except ImageConversionError as error:
            return msg, None, str(error)

    def frames(self, first: int = 0) -> Iterator[Frame]:
        for index, (conn, log_time, raw) in enumerate(self.reader.messages(connections=self.connections)):
            if index < first:
                continue
            msg, rgb, error = self.decode(raw, conn.msgtype)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            yield Frame(index, stamp or log_time, rgb, error, log_time, msg.header)

    def close(self) -> None:
        self.reader.close()


class VideoSource(LabelSource):
    """The frames of a video file OpenCV decodes; stamps ``index / fps``."""

    kind = "video"

    def __init__(self, path: str, fps: float) -> None:
        try:
            self.video = VideoFileSource(path)
        except (OSError, ValueError) as error:
            raise LabelInputError(str(error)) from None
        self.fps = self.video.fps if self.video.fps > 0 else fps
        self.length = self.video.length
        self.description = f"video {path} ({self.length or 'unknown number of'} frames, {self.fps:g} fps)"

    def stamps_ns(self) -> list[int]:
        if self.length is None:
            raise LabelInputError("the video does not say how many frames it has: give prompts by frame, not stamp")
        return [round(i * 1e9 / self.fps) for i in range(self.length)]

    def frames(self, first: int = 0) -> Iterator[Frame]:
        self.video.rewind()
        while (rgb := self.video.read()) is not None:
            index = self.video.index
            if index >= first:
                yield Frame(index, round(index * 1e9 / self.fps), rgb)

    def close(self) -> None:
        self.video.close()


class FolderSource(LabelSource):
    """The images of a folder in natural order (frame2 before frame10); stamps ``index / fps``."""

    kind = "folder"

    def __init__(self, path: str, fps: float) -> None:
        try:
            self.folder = ImageFolderSource(path)
        except (OSError, ValueError) as error:
            raise LabelInputError(str(error)) from None
        self.fps = fps
        self.length = self.folder.length
        self.description = f"image folder {path} ({self.length} images, taken as {fps:g} fps)"

    def stamps_ns(self) -> list[int]:
        return [round(i * 1e9 / self.fps) for i in range(self.length or 0)]

    def frames(self, first: int = 0) -> Iterator[Frame]:
        self.folder.index = first - 1  # images are files: start at any one
        while True:
            try:
                rgb = self.folder.read()
            except FrameReadError as error:
                index = self.folder.index
                yield Frame(index, round(index * 1e9 / self.fps), None, str(error))
                continue
            if rgb is None:
                return
            index = self.folder.index
            yield Frame(index, round(index * 1e9 / self.fps), rgb)


def open_source(path: str, topic: str | None = None, fps: float = 10.0) -> LabelSource:
    """A bag (a folder with metadata.yaml, or one .mcap / .db3 file), an image folder, or a video file."""
    p = Path(path).expanduser()
    if not path or not p.exists():
        raise LabelInputError(f"source '{path}' does not exist")
    try:
        listing = list(p.iterdir()) if p.is_dir() else []
    except OSError as error:
        raise LabelInputError(f"cannot read source '{path}': {error.strerror or error}") from None
    if listing and not (p / "metadata.yaml").is_file() and any(x.suffix in BAG_SUFFIXES for x in listing):
        raise LabelInputError(f"'{path}' holds bag files but no metadata.yaml; give the .mcap file itself")
    is_bag = (p.is_dir() and (p / "metadata.yaml").is_file()) or (p.is_file() and p.suffix in BAG_SUFFIXES)
    if not is_bag and topic is not None:
        raise LabelInputError("--topic applies to bag sources only")
    if is_bag:
        return BagSource(path, topic)
    if p.is_dir():
        try:
            list_image_files(p)
        except (OSError, ValueError) as error:
            raise LabelInputError(f"{error} and is no bag (no metadata.yaml)") from None
        return FolderSource(path, fps)
    return VideoSource(path, fps)
