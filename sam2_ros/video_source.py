# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The video_source node: a video file, an image folder or a synthetic scene as image + camera_info.

Frames come from sam2_ros.frame_sources and calibrations from sam2_ros.calibration (both
without rclpy); this module adds parameters, QoS, timing and stamps.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from sam2_core.synthetic import SCENARIOS
from sam2_ros.calibration import (
    Calibration,
    camera_info_msg,
    load_calibration,
    pinhole_calibration,
    scaled_calibration,
)
from sam2_ros.depth.geometry import fill_depth_image
from sam2_ros.frame_sources import FrameReadError, FrameSource, SyntheticSource, fit_frame, open_source
from sam2_ros.image_conversion import fill_image
from sam2_ros.node_main import run_node


def _descriptor(description: str, *, low: float | None = None, high: float | None = None,
                integer: bool = False, read_only: bool = True) -> ParameterDescriptor:  # fmt: skip
    desc = ParameterDescriptor(description=description, read_only=read_only)
    if low is not None and high is not None:
        if integer:
            desc.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
        else:
            desc.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high))]
    return desc


DEFAULT_RATE_HZ = 10.0

# name -> (default, descriptor). Read once at start (read-only): a different source is a new node.
PARAMETERS: dict[str, tuple[Any, ParameterDescriptor]] = {
    "source": ("synthetic", _descriptor(
        "What to publish: a video file (anything OpenCV decodes), a folder of images (natural order),"
        " or 'synthetic' (sam2_core's generated scene)")),
    "rate_hz": (10.0, _descriptor("Frames per second of the node's clock (sim time with use_sim_time);"
                                  " 0 = a video file's own frame rate (10 for other sources)",
                                  low=0.0, high=1000.0)),
    "loop": (False, _descriptor("Start over at the end instead of stopping")),
    "frame_id": ("camera_optical_frame", _descriptor("header.frame_id of image and camera_info (an optical"
                                                     " frame: z forward, x right, y down)")),
    "fov_deg": (60.0, _descriptor("Horizontal field of view of the ideal pinhole camera_info used when no"
                                  " calibration_file is given", low=1.0, high=179.0)),
    "calibration_file": ("", _descriptor("camera_calibration YAML (image_width, camera_matrix, ...); scaled"
                                         " when frames have another size")),
    "width": (0, _descriptor("Output width in pixels; 0 = the source's (synthetic: 640). One side 0 keeps"
                             " the aspect ratio", low=0, high=16384, integer=True)),
    "height": (0, _descriptor("Output height in pixels; 0 = the source's (synthetic: 480)",
                              low=0, high=16384, integer=True)),
    "reliability": ("best_effort", _descriptor("QoS reliability of both publishers: best_effort (sensor"
                                               " data) or reliable (every frame delivered; for recordings)")),
    "qos_depth": (5, _descriptor("QoS history depth (keep last)", low=1, high=1000, integer=True)),
    "wait_for_subscribers": (0, _descriptor("Hold the first frame until `image` has this many subscribers"
                                            " (so a replay is seen from its start)", low=0, high=100,
                                            integer=True)),
    "seed": (0, _descriptor("synthetic: scene seed", low=0, high=2**31 - 1, integer=True)),
    "scenario": ("random", _descriptor(f"synthetic: one of {', '.join(SCENARIOS)}")),
    "num_objects": (3, _descriptor("synthetic: number of tracked objects", low=1, high=100, integer=True)),
    "num_frames": (120, _descriptor("synthetic: clip length (scripted events happen inside it)",
                                    low=1, high=10**9, integer=True)),
    # --- depth (synthetic scenes only) ---
    "publish_depth": (False, _descriptor("synthetic: also publish the scene's exact depth on `depth`, aligned to"
                                         " `image` and stamped alike")),
    "depth_encoding": ("16UC1", _descriptor("Encoding of `depth`: 16UC1 (millimetres) or 32FC1 (metres)")),
}  # fmt: skip


@dataclass(frozen=True)
class PublishedFrame:
    """What ``publish_next`` sent: the source's frame index and the stamp shared by both messages."""

    index: int
    header: Header


def sensor_qos(reliability: str, depth: int) -> QoSProfile:
    """Sensor-data QoS (keep last, volatile), best effort unless ``reliability`` is 'reliable'."""
    if reliability not in ("best_effort", "reliable"):
        raise ValueError(f"reliability must be best_effort or reliable, got '{reliability}'")
    return QoSProfile(
        depth=depth,
        history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def publish_rate(rate_hz: float, source: FrameSource) -> float:
    """The timer rate: ``rate_hz``, or for 0 the video's own frame rate (10 Hz when it has none)."""
    if rate_hz > 0:
        return rate_hz
    native = float(getattr(source, "fps", 0.0) or 0.0)
    return native if 0 < native <= 1000 else DEFAULT_RATE_HZ


class VideoSourceNode(Node):
    """Publishes ``image`` (rgb8) and ``camera_info`` (and ``depth`` with publish_depth) with one stamp per
    frame at ``rate_hz``.

    Raises FileNotFoundError / ValueError at construction for a missing or unreadable source or
    calibration. ``timer=False`` publishes only on ``publish_next()`` (the demo paces it so).
    """

    def __init__(self, *, node_name: str = "video_source", timer: bool = True, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        for name, (default, desc) in PARAMETERS.items():
            self.declare_parameter(name, default, desc)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.frame_id: str = p["frame_id"]
        self.loop: bool = p["loop"]
        self._size = (int(p["width"]), int(p["height"]))
        if p["scenario"] not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}; got '{p['scenario']}'")
        self.source: FrameSource = open_source(
            p["source"], seed=p["seed"], scenario=p["scenario"], num_objects=p["num_objects"],
            num_frames=p["num_frames"], width=self._size[0], height=self._size[1],
        )  # fmt: skip
        self._calibration: Calibration | None = (
            load_calibration(p["calibration_file"]) if p["calibration_file"] else None
        )
        self._fov_deg: float = p["fov_deg"]
        self._calibrations: dict[tuple[int, int], Calibration] = {}
        self._wait_for: int = p["wait_for_subscribers"]
        qos = sensor_qos(p["reliability"], p["qos_depth"])
        self.image_pub = self.create_publisher(Image, "image", qos)
        self.info_pub = self.create_publisher(CameraInfo, "camera_info", qos)
        self.depth_pub = self._depth_publisher(p, qos)
        self.published = 0
        self.finished = False
        self.rate_hz = publish_rate(p["rate_hz"], self.source)
        self._timer = self.create_timer(1.0 / self.rate_hz, self._on_timer) if timer else None
        self.get_logger().info(
            f"publishing {self.source.description} on {self.resolve_topic_name('image')} at"
            f" {self.rate_hz:g} Hz ({p['reliability']}{', looping' if self.loop else ''})"
        )

    def _depth_publisher(self, p: dict[str, Any], qos: QoSProfile) -> Any:
        """The `depth` publisher with publish_depth (None without); ValueError where there is no depth."""
        self._depth_encoding: str = p["depth_encoding"]
        if self._depth_encoding not in ("16UC1", "32FC1"):
            raise ValueError(f"depth_encoding must be 16UC1 or 32FC1; got '{self._depth_encoding}'")
        if not p["publish_depth"]:
            return None
        if not isinstance(self.source, SyntheticSource):
            raise ValueError(f"publish_depth needs source 'synthetic' (only it has depth); source is '{p['source']}'")
        return self.create_publisher(Image, "depth", qos)

    def calibration_for(self, width: int, height: int) -> Calibration:
        """The calibration of frames of this size (the file's, scaled, or a pinhole from fov_deg)."""
        key = (width, height)
        if key not in self._calibrations:
            if self._calibration is not None:
                self._calibrations[key] = scaled_calibration(self._calibration, width, height)
            else:
                self._calibrations[key] = pinhole_calibration(width, height, self._fov_deg)
        return self._calibrations[key]

    def _next_rgb(self) -> np.ndarray | None:
        """The next readable frame, rewinding at the end when looping; None when the source is done."""
        rewound = False
        while True:
            try:
                rgb = self.source.read()
            except FrameReadError as error:
                self.get_logger().warning(f"skipping a frame: {error}")
                continue
            if rgb is not None:
                return rgb
            if not self.loop or rewound or self.source.index < 0:
                return None
            self.source.rewind()
            rewound = True

    def publish_next(self) -> PublishedFrame | None:
        """Publish the next frame and its camera_info with one stamp; None (and nothing sent) at the end."""
        if self.finished:
            return None
        rgb = self._next_rgb()
        if rgb is None:
            self.finished = True
            self.get_logger().info(f"end of the source after {self.published} frames")
            if self._timer is not None:
                self._timer.cancel()
            return None
        rgb = fit_frame(rgb, *self._size)
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        image = fill_image(Image(header=header), np.ascontiguousarray(rgb), "rgb8")
        info = camera_info_msg(self.calibration_for(image.width, image.height), header)
        self.image_pub.publish(image)
        self.info_pub.publish(info)
        if self.depth_pub is not None:  # the scene is rendered at the output size: depth needs no resizing
            self.depth_pub.publish(fill_depth_image(Image(header=header), self.source.depth(), self._depth_encoding))
        self.published += 1
        return PublishedFrame(self.source.index, header)

    def _on_timer(self) -> None:
        if self.published == 0 and self.image_pub.get_subscription_count() < self._wait_for:
            return
        self.publish_next()

    def destroy_node(self) -> None:
        self.source.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Entry point: ``ros2 run sam2_ros video_source`` / ``python -m sam2_ros.video_source``.

    Exits with status 1 and a one-line reason when the source or calibration cannot be opened.
    """
    if run_node(args, "video_source", VideoSourceNode, fatal=(FileNotFoundError, ValueError)):
        sys.exit(1)


if __name__ == "__main__":
    main()
