# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Any ROS detector's boxes as prompts: vision_msgs/Detection2DArray in, new or refreshed tracks out.

vision_msgs is optional (a ROS install has it; PyPI does not): ``detection_array_type()`` imports
it where it exists. The conversion functions are pure (message-like objects in, BoxCandidates
out); ``DetectionsBridge`` is the node's glue: it subscribes ``detections`` (when
``detections_enabled``), keeps the stamps of recently received images, and hands the boxes to
the worker, which applies them to the latest image through the shared BoxPrompter. rclpy is
imported only when subscribing.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from sam2_ros.prompts import check_prompt_age, stamp_to_ns
from sam2_ros.seeding.box_rules import BoxCandidate, BoxOutcome
from sam2_ros.throttled_log import ThrottledWarnings

RECENT_IMAGES = 256  # stamps of received images kept to recognise the image detections were made on


def detection_array_type() -> Any | None:
    """vision_msgs.msg.Detection2DArray, or None where vision_msgs is not installed."""
    try:
        from vision_msgs.msg import Detection2DArray
    except ImportError:
        return None
    return Detection2DArray


def parse_classes(value: Any) -> tuple[str, ...]:
    """The ``detection_classes`` parameter as class ids: a string array, or one string of comma-separated ids."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return tuple(str(item).strip() for item in items if str(item).strip())


def detection_box(bbox: Any) -> tuple[float, float, float, float]:
    """A vision_msgs/BoundingBox2D (centre, size, rotation theta in radians) as [x_min, y_min, x_max, y_max].

    A rotated box becomes the axis-aligned box that encloses it.
    """
    cx, cy = float(bbox.center.position.x), float(bbox.center.position.y)
    hx, hy = float(bbox.size_x) / 2.0, float(bbox.size_y) / 2.0
    theta = float(bbox.center.theta)
    if theta != 0.0 and math.isfinite(theta):
        c, s = abs(math.cos(theta)), abs(math.sin(theta))
        hx, hy = hx * c + hy * s, hx * s + hy * c
    return cx - hx, cy - hy, cx + hx, cy + hy


def candidates_from_detections(
    msg: Any, classes: Sequence[str] = (), min_score: float = 0.0
) -> tuple[list[BoxCandidate], list[str]]:
    """BoxCandidates from a Detection2DArray: per detection, its best hypothesis among ``classes``
    (empty = any) with score >= ``min_score``; label = the class id.

    Returns (candidates, problems): detections without a usable hypothesis are skipped quietly,
    those with a non-finite score are listed in ``problems``. Boxes are checked later, against the image.
    """
    allowed = set(classes)
    candidates: list[BoxCandidate] = []
    problems: list[str] = []
    for index, detection in enumerate(msg.detections):
        best = None
        for result in detection.results:
            class_id, score = str(result.hypothesis.class_id), float(result.hypothesis.score)
            if allowed and class_id not in allowed:
                continue
            if not math.isfinite(score):
                problems.append(f"detection {index} ('{class_id}'): score is {score}")
                continue
            if best is None or score > best[1]:
                best = (class_id, score)
        if best is None or best[1] < min_score:
            continue
        candidates.append(BoxCandidate(detection_box(detection.bbox), best[0], best[1]))
    return candidates, problems


def _kind_of(problem: str) -> str:
    """A problem's text without its numbers (boxes, scores, stamps): the key that throttles its warning,
    so one bad detector floods nothing while different problems are each still logged."""
    return re.sub(r"[-+]?(\d+\.?\d*(e[-+]?\d+)?|inf|nan)", "#", problem, flags=re.IGNORECASE)


class DetectionsBridge:
    """The node's ``detections`` input. configure: find vision_msgs (say once if it is missing);
    activate: subscribe when ``detections_enabled``; every message: boxes to the worker."""

    def __init__(self, node: Any) -> None:
        self._node = node
        self._msg_type: Any = None
        self._subscription: Any = None
        self._recent: deque[int] = deque(maxlen=RECENT_IMAGES)
        self._lock = threading.Lock()
        self._worker: Any = None
        self._boxes: Any = None
        self._max_objects = 16
        self._warn = ThrottledWarnings(node.get_logger()).warn

    @property
    def available(self) -> bool:
        return self._msg_type is not None

    def configure(self, params: Any, worker: Any, boxes: Any) -> None:
        self._msg_type = detection_array_type()
        self._worker, self._boxes, self._max_objects = worker, boxes, params.max_objects
        with self._lock:
            self._recent.clear()
        if self._msg_type is None:
            text = "vision_msgs is not installed: the detections input (vision_msgs/Detection2DArray) is off"
            log = self._node.get_logger()
            (log.warning if params.detections_enabled else log.info)(
                text + (" although detections_enabled is true" if params.detections_enabled else "")
            )

    def activate(self, params: Any, callback_group: Any) -> None:
        if not (params.detections_enabled and self._msg_type is not None):
            return
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

        # best effort matches reliable and best-effort publishers alike
        qos = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
        self._subscription = self._node.create_subscription(
            self._msg_type, "detections", self._on_detections, qos, callback_group=callback_group
        )
        self._node.get_logger().info(
            f"detections: boxes from {self._node.resolve_topic_name('detections')} start tracks"
            + (" and refresh matched ones" if self._node.get_parameter("detections_refresh").value else "")
        )

    def deactivate(self) -> None:
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def cleanup(self) -> None:
        self.deactivate()
        self._worker = self._boxes = None

    @property
    def subscription(self) -> Any:
        return self._subscription

    def saw_image(self, stamp_ns: int) -> None:
        """Called for every image handed to the tracker (executor thread)."""
        with self._lock:
            self._recent.append(stamp_ns)

    def _on_detections(self, msg: Any) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        with self._lock:
            known = stamp == 0 or stamp in self._recent
            latest = self._recent[-1] if self._recent else None
        if not known:
            seen = f"the latest is {latest * 1e-9:.3f} s" if latest is not None else "none received yet"
            self._warn(
                f"detections ignored: stamped {stamp * 1e-9:.3f} s, which is no recently received image ({seen});"
                " publish them with the header of the image they were computed on",
                reason="detections_unknown_stamp",
            )
            return
        param = self._node.get_parameter
        candidates, problems = candidates_from_detections(
            msg, parse_classes(param("detection_classes").value), float(param("detection_min_score").value)
        )
        for problem in problems:
            self._warn(f"detection ignored: {problem}", reason=_kind_of(f"ignored: {problem}"))
        worker = self._worker
        if not candidates or worker is None:
            return
        try:
            worker.submit(lambda: self._apply(stamp, candidates)).add_done_callback(self._report)
        except Exception as error:  # the worker stopped (deactivate, cleanup)
            self._warn(f"detections ignored: {error}", reason="detections_worker")

    def _apply(self, stamp: int, candidates: list[BoxCandidate]) -> tuple[BoxOutcome, str]:
        """Worker thread: the boxes on the latest image, if it is recent enough for their stamp;
        returns the outcome and its summary."""
        param = self._node.get_parameter
        session = self._boxes.session
        if session.frame is not None:
            check_prompt_age(stamp, session.frame.stamp_ns, float(param("max_prompt_age_s").value))
        outcome = self._boxes.apply(
            candidates,
            match_iou=float(param("text_match_iou").value),
            max_objects=self._max_objects,
            refresh=bool(param("detections_refresh").value),
            source="the detections topic",
        )
        return outcome, outcome.summary(session.names)

    def _report(self, future: Any) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._warn(f"detections not applied: {error}", reason="detections_not_applied")
            return
        outcome, summary = future.result()
        for problem in outcome.rejected:
            self._warn(f"detection not used: {problem}", reason=_kind_of(f"not used: {problem}"))
        if outcome.added or outcome.refreshed:
            self._node.get_logger().info(f"detections: {summary}")
