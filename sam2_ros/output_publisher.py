# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node's outputs: its lifecycle publishers and the messages built for each tracked frame.

Runs on the worker thread (after each frame and prompt). The maths is in ``outputs``; this
module decides what is published, on which topic and when (overlay, markers and the
compressed images only with a subscriber). Every message carries the input image's header.
Every output but /diagnostics uses one QoS, ``output_qos(output_reliability, output_qos_depth)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from visualization_msgs.msg import MarkerArray

from sam2_ros.compressed_images import label_png, overlay_jpeg
from sam2_ros.depth.messages import fill_positions
from sam2_ros.depth.node_io import Objects3DOutput
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


def output_qos(reliability: str = "reliable", depth: int = 5) -> QoSProfile:
    """The QoS of every output but /diagnostics: keep last ``depth``, volatile, ``reliability``.

    Reliable (the default) matches readers of either reliability; best_effort does not match
    reliable readers (DDS's request/offer rule) but never resends lost fragments.
    """
    policy = ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=policy)


class OutputPublisher:
    """Creates the node's output publishers and publishes what each tracked frame yields.

    ``live(name)`` reads a live parameter (contour_epsilon_px, publish_overlay, ...), so
    changes apply from the next frame. ``qos``: that of every output but /diagnostics
    (``output_qos()``'s default when None); kept as ``self.qos``.
    """

    def __init__(self, node: Any, live: Callable[[str], Any], qos: QoSProfile | None = None) -> None:
        self._node = node
        self._live = live
        self.publishers: dict[str, Any] = {}
        self.set_qos(output_qos() if qos is None else qos)
        self.objects_3d = Objects3DOutput(node, live)  # 3-D from the paired depth image (use_depth)

    def set_qos(self, qos: QoSProfile) -> None:
        """(Re)create every output publisher with ``qos`` (``/diagnostics`` keeps its own)."""
        node = self._node
        for publisher in self.publishers.values():
            node.destroy_lifecycle_publisher(publisher)
        self.qos = qos
        self.publishers = {
            "label_image": node.create_lifecycle_publisher(Image, "~/label_image", qos),
            "objects": node.create_lifecycle_publisher(TrackedObjectArray, "~/objects", qos),
            "overlay": node.create_lifecycle_publisher(Image, "~/overlay", qos),
            "markers": node.create_lifecycle_publisher(MarkerArray, "~/markers", qos),
            # image_transport's convention: a `compressed` sibling of each image topic
            "label_image_compressed": node.create_lifecycle_publisher(CompressedImage, "~/label_image/compressed", qos),
            "overlay_compressed": node.create_lifecycle_publisher(CompressedImage, "~/overlay/compressed", qos),
            "diagnostics": node.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
            "points": node.create_lifecycle_publisher(PointCloud2, "~/points", qos),  # use_depth only
        }

    def destroy(self) -> None:
        for publisher in self.publishers.values():
            self._node.destroy_lifecycle_publisher(publisher)
        self.publishers = {}
        self.objects_3d.destroy()

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
        image and objects are out (what latency is measured to), before the compressed label
        image, overlay and markers. The overlay is drawn once when either overlay topic has a
        subscriber.
        """
        out = self.publishers
        ids = [int(i) for i in result.obj_ids]
        labels, regions = frame_labels(result)  # one H x W image; boxes keep the geometry to each object
        geometries = object_geometries(labels, ids, self._live("contour_epsilon_px"), regions)
        scores = to_numpy(result.object_scores).reshape(-1).tolist()
        header = frame.header
        out["label_image"].publish(image_msg(header, labels, "mono16"))
        measured = self.objects_3d.measure(frame, labels, ids, camera_info)  # None without use_depth
        objects = tracked_object_array(header, geometries, names, scores)
        out["objects"].publish(objects if measured is None else fill_positions(objects, measured))
        if on_labels_published is not None:
            on_labels_published(time.monotonic_ns(), len(ids))
        if out["label_image_compressed"].get_subscription_count() > 0:
            out["label_image_compressed"].publish(label_png(header, labels))
        self.objects_3d.publish(header, measured, frame.rgb, out["points"])
        overlay, markers = out["overlay"], out["markers"]
        raw_overlay = overlay.get_subscription_count() > 0
        jpeg_overlay = out["overlay_compressed"].get_subscription_count() > 0
        if self._live("publish_overlay") and (raw_overlay or jpeg_overlay):
            drawn = overlay_image(frame.rgb, labels, geometries, names, alpha=self._live("overlay_alpha"))
            if raw_overlay:
                overlay.publish(image_msg(header, drawn, "rgb8"))
            if jpeg_overlay:
                quality = self._live("overlay_jpeg_quality")
                out["overlay_compressed"].publish(overlay_jpeg(header, drawn, quality=quality))
        if self._live("publish_markers") and markers.get_subscription_count() > 0:
            intrinsics = pinhole_intrinsics(labels.shape[1], labels.shape[0], camera_info)
            flat = self.objects_3d.flat_geometries(geometries, measured)  # objects with a position: boxes
            array = contour_markers(header, flat, names, intrinsics, depth_m=self._live("marker_depth_m"))
            array.markers += self.objects_3d.box_markers(header, measured, names)
            markers.publish(array)

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
