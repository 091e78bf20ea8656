# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Recordings for the label tool's tests: synthetic scenes as ROS 2 bags (rosbags), videos and image folders."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer

from sam2_core.synthetic import SceneConfig, generate_clip
from sam2_core.training.prompting import center_click, mask_box
from sam2_ros.labelling import bag_types

TOPIC = "/camera/image_raw"
STAMP0_NS = 1_700_000_000_000_000_000  # header stamps from here, 0.1 s apart
PERIOD_NS = 100_000_000


@functools.cache
def clip(seed: int = 11, width: int = 320, height: int = 240, frames: int = 12, objects: int = 3):
    """A "random" synthetic scene with exactly ``objects`` targets (the truth: clip.masks, T x K x H x W)."""
    config = SceneConfig(height=height, width=width, num_frames=frames, num_objects=(objects, objects))
    return generate_clip(seed, config)


def write_bag(
    path: Path,
    frames: np.ndarray,
    *,
    storage: str = "sqlite3",
    compressed: bool = False,
    topic: str = TOPIC,
    encoding: str = "rgb8",
    extra_topics: bool = True,
    zero_stamps: bool = False,
) -> Path:
    """A rosbag2 folder with ``frames`` (T x H x W x 3 RGB) as Image (``encoding``) or jpeg CompressedImage,
    header stamps STAMP0_NS + i * PERIOD_NS (recorded 1 ms later; with ``zero_stamps`` the headers'
    stamps are 0), plus a /chatter String topic."""
    store = bag_types.typestore()
    types = store.types
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    msgtype = bag_types.COMPRESSED_IMAGE if compressed else bag_types.IMAGE
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        images = writer.add_connection(topic, msgtype, typestore=store)
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store) if extra_topics else None
        for i, rgb in enumerate(frames):
            stamp = STAMP0_NS + i * PERIOD_NS
            head_stamp = 0 if zero_stamps else stamp
            time = types["builtin_interfaces/msg/Time"](sec=head_stamp // 10**9, nanosec=head_stamp % 10**9)
            header = types["std_msgs/msg/Header"](stamp=time, frame_id="camera_optical")
            if compressed:
                ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
                msg = types[msgtype](header=header, format="rgb8; jpeg compressed bgr8", data=data.reshape(-1))
            else:
                pixels = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "mono8": rgb[..., 0]}.get(encoding, rgb)
                pixels = np.ascontiguousarray(pixels)
                channels = 1 if pixels.ndim == 2 else 3
                h, w = pixels.shape[:2]
                msg = types[msgtype](
                    header=header,
                    height=h,
                    width=w,
                    encoding=encoding,
                    is_bigendian=0,
                    step=w * channels,
                    data=pixels.reshape(-1),
                )
            writer.write(images, stamp + 1_000_000, store.serialize_cdr(msg, msgtype))
            if chatter is not None and i % 4 == 0:
                text = types["std_msgs/msg/String"](data=f"frame {i}")
                writer.write(chatter, stamp + 2_000_000, store.serialize_cdr(text, "std_msgs/msg/String"))
    return path


def write_video(path: Path, frames: np.ndarray, fps: float = 10.0) -> Path:
    """An MJPG .avi of ``frames`` (OpenCV's own encoder, present in every build)."""
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for rgb in frames:
        writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    writer.release()
    return path


def write_folder(path: Path, frames: np.ndarray) -> Path:
    """PNG files frame0.png, frame1.png, ... (natural order puts frame10 after frame9)."""
    path.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(path / f"frame{i}.png"), rgb[..., ::-1])
    return path


def truth_prompts(masks: np.ndarray, folder: Path, *, frame: int = 0, labels=("disc", "block", "shape")) -> list[dict]:
    """Prompts for every object of the truth ``masks`` (K x H x W) on ``frame``: object 1 a box, object 2
    a click at its centre, object 3 a mask PNG (the others a box), labels from ``labels``."""
    entries = []
    for k, m in enumerate(masks):
        entry = {"frame": frame, "object_id": k + 1, "label": labels[k % len(labels)]}
        if k == 1:
            x, y = center_click(m)
            entry.update(points=[[float(x), float(y)]], point_labels=[1])
        elif k == 2:
            cv2.imwrite(str(folder / f"mask{k + 1}.png"), m.astype(np.uint8) * 255)
            entry["mask"] = f"mask{k + 1}.png"
        else:
            entry["box"] = [float(v) for v in mask_box(m)]
        entries.append(entry)
    return entries


def write_prompts(path: Path, entries: list[dict]) -> Path:
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path
