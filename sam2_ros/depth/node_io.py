# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node's depth input and 3-D outputs: the `depth` subscription, ~/points, box markers, TF frames.

rclpy glue around depth.pairing (which colour frame goes with which depth image),
depth.geometry (the maths) and depth.messages (the messages). DepthInput runs on the executor
(in the node's mutually exclusive input group) and never waits: a colour frame goes on to
the worker with its depth as soon as that is known. Objects3DOutput runs on the worker,
from OutputPublisher.publish_frame. Bad depth is logged at most once per 5 s per reason and
costs only the 3-D fields (has_position false); the 2-D outputs are never affected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from rclpy.qos import HistoryPolicy, QoSProfile
from sensor_msgs.msg import Image

from sam2_ros.depth.geometry import AlignedDepth, DepthError, Object3D, decode_depth, intrinsics_for, measure_object
from sam2_ros.depth.messages import box_markers, object_transforms, point_cloud
from sam2_ros.depth.pairing import ColourDepthPairing, make_matcher, stamp_ns
from sam2_ros.throttled_log import ThrottledWarnings

# Wall time a colour frame waits for its depth image (less when the next frame comes, as it does
# within a frame period on a live camera). Not shorter: after a pause of the process (a garbage
# collection, a loaded machine) the timer and the depth image are ready together and the timer
# may run first.
MAX_DEPTH_WAIT_S = 0.5
WARNING_PERIOD_S = 5.0
NO_DEPTH_WARNING_S = 5.0  # warn when colour frames come but no depth image has for this long


class DepthInput:
    """Subscribes to `depth` (with use_depth) and hands each colour frame on with its depth image or None.

    ``deliver(frame, depth)``: called on the executor, once per colour frame, in arrival order.
    """

    def __init__(self, node: Any) -> None:
        self._node = node
        self._throttle = ThrottledWarnings(node.get_logger(), WARNING_PERIOD_S)
        self._subscription: Any = None
        self._timer: Any = None
        self._pairing: ColourDepthPairing | None = None
        self._deliver: Callable[[Any, Any], None] | None = None
        self._slop_s = 0.0
        self._depth_count = 0
        self._last_depth_stamp: int | None = None
        self._last_depth_time = 0.0

    @property
    def active(self) -> bool:
        return self._pairing is not None

    @property
    def backend(self) -> str:
        return self._pairing.matcher.backend if self._pairing else "none"

    def start(self, slop_s: float, qos: Any, group: Any, deliver: Callable[[Any, Any], None]) -> None:
        """Subscribe to `depth` and start pairing (called at activation when use_depth is true)."""
        self.stop()
        node = self._node
        self._slop_s, self._deliver = slop_s, deliver
        self._pairing = ColourDepthPairing(make_matcher(slop_s), self._hand_on)
        self._depth_count, self._last_depth_stamp, self._last_depth_time = 0, None, time.monotonic()
        # a few depth images may wait in the reader while the input group converts a colour image
        qos = QoSProfile(depth=max(qos.depth, 5), history=HistoryPolicy.KEEP_LAST, reliability=qos.reliability)
        self._subscription = node.create_subscription(Image, "depth", self.add_depth, qos, callback_group=group)
        self._timer = node.create_timer(MAX_DEPTH_WAIT_S, self._on_timer, callback_group=group)
        self._timer.cancel()  # armed while a colour frame waits
        node.get_logger().info(
            f"depth: pairing {node.resolve_topic_name('depth')} with the colour images (stamps within"
            f" {slop_s:g} s; {self.backend})"
        )

    def stop(self) -> None:
        """Unsubscribe; a colour frame still waiting for depth is dropped (the node is stopping)."""
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
        self._subscription = self._timer = self._pairing = None

    # locals below: stop() may run on another thread (a lifecycle transition) while a callback runs
    def add_colour(self, frame: Any) -> None:
        pairing, timer = self._pairing, self._timer
        if pairing is None:
            return
        pairing.add_colour(frame)
        if pairing.waiting and timer is not None:
            timer.reset()  # expire() it in MAX_DEPTH_WAIT_S unless its depth or the next frame comes first

    def add_depth(self, msg: Image) -> None:
        self._depth_count += 1
        self._last_depth_stamp, self._last_depth_time = stamp_ns(msg), time.monotonic()
        pairing = self._pairing
        if pairing is not None:
            pairing.add_depth(msg)

    def _on_timer(self) -> None:
        pairing, timer = self._pairing, self._timer
        if timer is not None:
            timer.cancel()
        if pairing is not None:
            pairing.expire()

    def _hand_on(self, frame: Any, depth: Any) -> None:
        if depth is None:
            self._warn_unpaired(frame)
        if self._deliver is not None:
            self._deliver(frame, depth)

    def _warn_unpaired(self, frame: Any) -> None:
        topic = self._node.resolve_topic_name("depth")
        silent_s = time.monotonic() - self._last_depth_time
        if silent_s > NO_DEPTH_WARNING_S:
            self._throttle.warn(
                f"use_depth is true but no depth image arrived on {topic} for {silent_s:.0f} s: objects are"
                " tracked without 3-D (has_position false)",
                reason="no_depth",
            )
            return
        latest = "none received yet" if self._last_depth_stamp is None else f"{self._last_depth_stamp / 1e9:.3f} s"
        self._throttle.warn(
            f"the colour image stamped {stamp_ns(frame) / 1e9:.3f} s has no depth image on {topic} within"
            f" depth_slop_s = {self._slop_s:g} s (latest depth stamp: {latest}): tracked without 3-D",
            reason="unpaired",
        )


class Objects3DOutput:
    """Measures each tracked frame's objects in 3-D and publishes ~/points and TF (worker thread).

    ``live(name)`` reads live parameters (depth_scale_m, depth_erosion_px, max_points_per_object,
    publish_tf, tf_prefix).
    """

    def __init__(self, node: Any, live: Callable[[str], Any]) -> None:
        self._node = node
        self._live = live
        self._throttle = ThrottledWarnings(node.get_logger(), WARNING_PERIOD_S)
        self._enabled = False
        self._broadcaster: Any = None
        self._tf_missing_said = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def start(self, use_depth: bool) -> None:
        """At activation: measure in 3-D from now on when ``use_depth``; a TF broadcaster where tf2_ros is."""
        self._enabled = bool(use_depth)
        if self._enabled and self._broadcaster is None:
            try:
                from tf2_ros import TransformBroadcaster
            except ImportError:
                return
            self._broadcaster = TransformBroadcaster(self._node)

    def stop(self) -> None:
        """At deactivation: no more 3-D (the broadcaster stays until destroy: a frame may still be finishing)."""
        self._enabled = False

    def destroy(self) -> None:
        """With the other outputs, once the worker has stopped."""
        self._enabled = False
        broadcaster, self._broadcaster = self._broadcaster, None
        publisher = getattr(broadcaster, "pub_tf", None)
        if publisher is not None:
            self._node.destroy_publisher(publisher)

    def measure(
        self, frame: Any, labels: np.ndarray, ids: Sequence[int], camera_info: Any
    ) -> dict[int, Object3D] | None:
        """Object id -> Object3D for one tracked frame; None when depth is not used (no 3-D fields at all).

        Objects get no position (has_position false) when the frame has no paired depth image, when
        there is no camera_info, when the depth image is unusable (logged with its reason), or when
        their own pixels hold no valid depth.
        """
        if not self._enabled:
            return None
        measured = {int(i): Object3D(int(i)) for i in ids}
        if frame.depth is None or not measured:
            return measured
        height, width = labels.shape
        try:
            intrinsics = intrinsics_for(camera_info, width, height)
            depth = decode_depth(frame.depth, float(self._live("depth_scale_m")))
            aligned = AlignedDepth.of(depth, width, height)
        except DepthError as error:
            self._throttle.warn(f"no 3-D for the image stamped {stamp_ns(frame) / 1e9:.3f} s: {error}", error.reason)
            return measured
        if depth.negative:
            self._throttle.warn(
                f"depth image has {depth.negative} negative values: not depth (check the encoding and"
                " depth_scale_m); they count as no reading",
                reason="negative",
            )
        erosion, max_points = int(self._live("depth_erosion_px")), int(self._live("max_points_per_object"))
        for object_id in measured:
            measured[object_id] = measure_object(
                labels, object_id, aligned, intrinsics, erosion_px=erosion, max_points=max_points
            )
        without = [i for i, m in measured.items() if m.position is None and np.any(labels == i)]
        if without:
            self._throttle.warn(
                f"object(s) {without} have no valid depth under their masks (zero, NaN, infinite or negative"
                " readings: too near, too far or a reflective surface?): no 3-D position",
                reason="object_no_depth",
            )
        return measured

    def publish(self, header: Any, measured: Mapping[int, Object3D] | None, rgb: Any, points: Any) -> None:
        """~/points (when someone subscribes) and TF frames (publish_tf) of one frame's measurements."""
        if measured is None:
            return
        if points is not None and points.get_subscription_count() > 0:
            points.publish(point_cloud(header, measured.values(), np.asarray(rgb)))
        broadcaster = self._broadcaster
        if not self._live("publish_tf"):
            return
        if broadcaster is None:
            if not self._tf_missing_said:
                self._tf_missing_said = True
                self._node.get_logger().warning(
                    "publish_tf is true but tf2_ros is not installed: no TF frames are published (positions are"
                    " in ~/objects and ~/points)"
                )
            return
        transforms = object_transforms(header, measured.values(), str(self._live("tf_prefix")))
        if transforms:
            broadcaster.sendTransform(transforms)

    @staticmethod
    def flat_geometries(geometries: Sequence[Any], measured: Mapping[int, Object3D] | None) -> list[Any]:
        """The geometries still drawn as flat outlines: all without depth, else those without a position."""
        if measured is None:
            return list(geometries)
        return [g for g in geometries if not measured.get(g.object_id, Object3D(g.object_id)).has_position]

    @staticmethod
    def box_markers(header: Any, measured: Mapping[int, Object3D] | None, names: Mapping[int, str]) -> list[Any]:
        return [] if measured is None else box_markers(header, list(measured.values()), names)
