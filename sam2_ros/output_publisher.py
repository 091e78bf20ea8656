# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node's outputs: its lifecycle publishers and the messages built for each tracked frame.

Runs on the worker thread (after each frame and prompt). The maths is in ``outputs``; this
module decides what is published, on which topic and when (overlay and markers only with a
subscriber). Every message carries the input image's header.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from sam2_ros.msg import TrackedObject, TrackedObjectArray
from sam2_ros.outputs import (
    contour_markers,
    frame_labels,
    image_msg,
    object_geometries,
    overlay_image,
    pinhole_intrinsics,
    to_numpy,
    tracked_object,
    tracked_object_array,
)
from sam2_ros.tracking_session import Frame


class OutputPublisher:
    """Creates the node's output publishers and publishes what each tracked frame yields.

    ``live(name)`` reads a live parameter (contour_epsilon_px, publish_overlay, ...), so
    changes apply from the next frame.
    """

    def __init__(self, node: Any, live: Callable[[str], Any]) -> None:
        self._node = node
        self._live = live
        qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers: dict[str, Any] = {
            "label_image": node.create_lifecycle_publisher(Image, "~/label_image", qos),
            "objects": node.create_lifecycle_publisher(TrackedObjectArray, "~/objects", qos),
            "overlay": node.create_lifecycle_publisher(Image, "~/overlay", qos),
            "markers": node.create_lifecycle_publisher(MarkerArray, "~/markers", qos),
            "diagnostics": node.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
        }

    def destroy(self) -> None:
        for publisher in self.publishers.values():
            self._node.destroy_lifecycle_publisher(publisher)
        self.publishers = {}

    def publish_frame(
        self,
        frame: Frame,
        result: Any,
        names: Mapping[int, str],
        camera_info: CameraInfo | None,
        on_labels_published: Callable[[int, int], None] | None = None,
    ) -> None:
        """Publish every output of one tracked frame (``result``: the tracker's TrackResult).

        ``on_labels_published(publish_time_ns, num_objects)`` is called right after the label
        image and objects are out (what latency is measured to), before overlay and markers.
        """
        out = self.publishers
        ids = [int(i) for i in result.obj_ids]
        labels, regions = frame_labels(result)  # one H x W image; boxes keep the geometry to each object
        geometries = object_geometries(labels, ids, self._live("contour_epsilon_px"), regions)
        scores = to_numpy(result.object_scores).reshape(-1).tolist()
        header = frame.header
        out["label_image"].publish(image_msg(header, labels, "mono16"))
        out["objects"].publish(tracked_object_array(header, geometries, names, scores))
        if on_labels_published is not None:
            on_labels_published(time.monotonic_ns(), len(ids))
        overlay, markers = out["overlay"], out["markers"]
        if self._live("publish_overlay") and overlay.get_subscription_count() > 0:
            drawn = overlay_image(frame.rgb, labels, geometries, names, alpha=self._live("overlay_alpha"))
            overlay.publish(image_msg(header, drawn, "rgb8"))
        if self._live("publish_markers") and markers.get_subscription_count() > 0:
            intrinsics = pinhole_intrinsics(labels.shape[1], labels.shape[0], camera_info)
            markers.publish(
                contour_markers(header, geometries, names, intrinsics, depth_m=self._live("marker_depth_m"))
            )

    def object_after_prompt(self, result: Any, object_id: int, label: str) -> TrackedObject:
        """The TrackedObject of ``object_id`` as the label image of ``result`` shows it (service replies)."""
        ids = [int(i) for i in result.obj_ids]
        labels, regions = frame_labels(result)
        score = float(to_numpy(result.object_scores).reshape(-1)[ids.index(object_id)])
        [geometry] = object_geometries(labels, [object_id], self._live("contour_epsilon_px"), regions)
        return tracked_object(geometry, label=label, score_logit=score)

    def publish_diagnostics(self, array: DiagnosticArray) -> None:
        publisher = self.publishers.get("diagnostics")
        if publisher is not None:  # a tick already dispatched when cleanup or shutdown removed the publishers
            publisher.publish(array)
