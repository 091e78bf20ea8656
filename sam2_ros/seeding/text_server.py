# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's text prompts: ~/track_text, ~/stop_text, ~/text_prompts and continuous re-detection.

An open-vocabulary detector (``sam2_core.detection``, built by ``detector_factory`` from the
``detector_model`` parameter) finds the phrases on the latest image; each new box starts an
object through the shared BoxPrompter. The detector is built on a loader thread (a large model
or a download must not stall tracking), then warmed up, run and its boxes applied on the
tracking worker only; the executor threads parse requests and wait for answers. Continuous
phrases are re-detected after a tracked frame once ``text_redetect_period_s`` of image time has
passed since the last detection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import Trigger

from sam2_ros.seeding.box_rules import BoxCandidate, BoxOutcome, BoxPromptError
from sam2_ros.seeding.phrases import ActivePhrases, TextPromptError, check_threshold, parse_phrases
from sam2_ros.srv import TrackText
from sam2_ros.throttled_log import ThrottledWarnings
from sam2_ros.tracking_worker import WorkerStopped

SERVICE_TIMEOUT_S = 120.0  # as the node's other services: a CPU detector plus the tracker take seconds
WARMUP_SIZE = 64


def make_detector(params: Any) -> Any:
    """The detector the parameters name: ``detector_model`` on ``detector_device`` (empty = the tracker's)."""
    from sam2_core.detection import OpenVocabularyDetector
    from sam2_ros.tracker_factory import resolve_device

    return OpenVocabularyDetector(params.detector_model, device=resolve_device(params.detector_device or params.device))


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"the tracker did not answer within {SERVICE_TIMEOUT_S:g} s"
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, ValueError | RuntimeError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class TextPromptServer:
    """Text prompts for a TrackerNode: created with the node, configured with its session and worker."""

    def __init__(self, node: Any, detector_factory: Callable[[Any], Any] = make_detector) -> None:
        self._node = node
        self._factory = detector_factory
        self._servers: list[Any] = []
        self._subscription: Any = None
        self._worker: Any = None
        self._boxes: Any = None
        self._outputs: Any = None
        self._max_objects = 16
        # worker-side state
        self.detector: Any = None
        self._detector_problem = "text prompts are not configured"
        self._generation = 0  # bumped by configure and cleanup: a late loader result is dropped
        self.active = ActivePhrases()
        self._frame_clock_ns = 0
        self._warn = ThrottledWarnings(node.get_logger()).warn

    # --- lifecycle (executor threads) ------------------------------------------------------
    def configure(self, params: Any, worker: Any, outputs: Any, boxes: Any, callback_group: Any) -> None:
        """Create the services; start loading the detector (then one warm-up run on the worker)."""
        self._worker, self._outputs, self._boxes, self._max_objects = worker, outputs, boxes, params.max_objects
        self.detector, self.active = None, ActivePhrases()
        self._generation += 1
        node = self._node
        self._servers = [
            node.create_service(TrackText, "~/track_text", self._on_track_text, callback_group=callback_group),
            node.create_service(Trigger, "~/stop_text", self._on_stop_text, callback_group=callback_group),
        ]
        if not params.detector_model:
            self._detector_problem = (
                "text prompts are off: the detector_model parameter is empty; set it to a zero-shot object detector"
                " (a local model directory or a Hugging Face id such as IDEA-Research/grounding-dino-tiny) and"
                " configure again"
            )
            return
        self._detector_problem = f"the detector '{params.detector_model}' is still loading; try again shortly"
        loader = threading.Thread(
            target=self._load, args=(params, worker, self._generation), name="sam2_detector_loader", daemon=True
        )
        loader.start()

    def activate(self, callback_group: Any) -> None:
        qos = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        self._subscription = self._node.create_subscription(
            String, "~/text_prompts", self._on_text_prompt, qos, callback_group=callback_group
        )

    def deactivate(self) -> None:
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def cleanup(self) -> None:
        self.deactivate()
        for server in self._servers:
            self._node.destroy_service(server)
        self._servers, self._worker, self._outputs, self._boxes = [], None, None, None
        self.detector, self.active = None, ActivePhrases()
        self._detector_problem = "text prompts are not configured"
        self._generation += 1

    # --- worker side -------------------------------------------------------------------------
    def _load(self, params: Any, worker: Any, generation: int) -> None:
        """Loader thread: build the detector, run it once on the worker (so it fails now, not later)."""
        log = self._node.get_logger()
        started = time.monotonic()
        blank = np.zeros((WARMUP_SIZE, WARMUP_SIZE, 3), dtype=np.uint8)
        try:
            detector = self._factory(params)
            worker.call(lambda: detector.detect(blank, ["object"], box_threshold=1.0, text_threshold=1.0))
        except WorkerStopped:
            return  # cleaned up meanwhile
        except Exception as error:
            problem = f"text prompts are off: cannot use detector_model '{params.detector_model}': {_reason(error)}"
            if generation == self._generation:
                self._detector_problem = problem
                log.error(problem)
            return
        if generation != self._generation:
            return
        self.detector = detector
        log.info(f"text prompts: detector '{params.detector_model}' ready in {time.monotonic() - started:.1f} s")

    def _detect(self, phrases: list[str], box_threshold: float) -> list[BoxCandidate]:
        session = self._boxes.session
        if self.detector is None:
            raise TextPromptError(self._detector_problem)
        if session.latest_rgb is None:
            raise TextPromptError("no image received yet; text prompts detect on the latest image")
        text_threshold = float(self._node.get_parameter("text_threshold").value)
        try:
            found = self.detector.detect(session.latest_rgb, phrases, box_threshold, text_threshold)
        except Exception as error:
            raise TextPromptError(f"the detector failed: {_reason(error)}") from error
        return [BoxCandidate(tuple(d.box), d.phrase, float(d.score)) for d in found if d.phrase in phrases]

    def _add(self, candidates: list[BoxCandidate], source: str) -> BoxOutcome:
        return self._boxes.apply(
            candidates,
            match_iou=float(self._node.get_parameter("text_match_iou").value),
            max_objects=self._max_objects,
            source=source,
        )

    def run_text(self, phrases: list[str], box_threshold: float | None, continuous: bool, source: str) -> Any:
        """Detect ``phrases`` on the latest image and add what is new; returns (outcome, objects, message).

        TextPromptError / BoxPromptError (nothing tracked changed) for a missing detector or image.
        """
        threshold = box_threshold
        if threshold is None:
            threshold = check_threshold(self._node.get_parameter("box_threshold").value, "box_threshold")
        outcome = self._add(self._detect(phrases, threshold), f"text '{'. '.join(phrases)}' from {source}")
        if continuous:
            self.active.add(phrases, box_threshold, self._frame_clock_ns)
        names = self._boxes.session.names
        objects = [self._outputs.object_after_prompt(outcome.result, i, names.get(i, "")) for i in outcome.added]
        quoted = ", ".join(f"'{p}'" for p in phrases)
        message = f"text {quoted}: {outcome.summary(names)}"
        if continuous:
            message += f"; continuous: {', '.join(self.active.phrases)}"
        return outcome, objects, message

    def after_frame(self, frame: Any) -> None:
        """Worker: after each tracked frame, re-detect the continuous phrases when due (errors are logged)."""
        self._frame_clock_ns = frame.stamp_ns or frame.receipt_ns
        if not self.active or self.detector is None:
            return
        period = float(self._node.get_parameter("text_redetect_period_s").value)
        if not self.active.due(self._frame_clock_ns, period):
            return
        self.active.last_detection_ns = self._frame_clock_ns
        try:
            default = check_threshold(self._node.get_parameter("box_threshold").value, "box_threshold")
            phrases = self.active.phrases
            lowest = min(self.active.threshold_of(p, default) for p in phrases)
            found = [c for c in self._detect(phrases, lowest) if c.score > self.active.threshold_of(c.label, default)]
            outcome = self._add(found, "continuous text")
        except (TextPromptError, BoxPromptError) as error:
            self._warn(f"continuous text not re-detected: {error}", reason="continuous_text")
            return
        except Exception as error:  # noqa: BLE001 - the frame itself was tracked and published
            self._warn(f"continuous text not re-detected: {_reason(error)}", reason="continuous_text")
            return
        for problem in outcome.rejected:
            self._warn(f"continuous text: detection not used: {problem}", reason="continuous_text_rejected")
        if outcome.added:
            self._node.get_logger().info(f"continuous text: {outcome.summary(self._boxes.session.names)}")

    def stop(self) -> list[str]:
        return self.active.clear()

    # --- requests (executor threads) -----------------------------------------------------------
    def _on_track_text(self, request: TrackText.Request, response: TrackText.Response) -> TrackText.Response:
        log = self._node.get_logger()
        try:
            phrases = parse_phrases(request.text)
            threshold = None if request.box_threshold == 0 else check_threshold(request.box_threshold, "box_threshold")
            worker = self._worker
            if worker is None or self._node.stage != "active":
                raise TextPromptError(f"the node is {self._node.stage}, not active")
            outcome, objects, message = worker.call(
                lambda: self.run_text(phrases, threshold, bool(request.continuous), "the track_text service"),
                timeout=SERVICE_TIMEOUT_S,
            )
        except Exception as error:
            response.success, response.message = False, _reason(error)
            log.warning(f"track_text {request.text!r} rejected: {response.message}")
            return response
        response.success, response.message = True, message
        response.object_ids = [int(o.id) for o in objects]
        response.labels = [o.label for o in objects]
        response.objects = objects
        log.info(message)
        return response

    def _on_stop_text(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        worker = self._worker
        try:
            if worker is None:
                raise TextPromptError(f"the node is {self._node.stage}, not configured")
            stopped = worker.call(self.stop, timeout=SERVICE_TIMEOUT_S)
        except Exception as error:
            response.success, response.message = False, _reason(error)
            return response
        response.success = True
        response.message = (
            "stopped continuous text: " + ", ".join(f"'{p}'" for p in stopped)
            if stopped
            else "no continuous text was active"
        )
        self._node.get_logger().info(response.message)
        return response

    def _on_text_prompt(self, msg: String) -> None:
        log = self._node.get_logger()
        try:
            phrases = parse_phrases(msg.data)
            worker = self._worker
            if worker is None or self._node.stage != "active":
                raise TextPromptError(f"the node is {self._node.stage}, not active")
            future = worker.submit(lambda: self.run_text(phrases, None, False, "the text_prompts topic"))
        except Exception as error:
            log.warning(f"text prompt {msg.data!r} rejected: {_reason(error)}")
            return

        def report(done: Any) -> None:
            if done.cancelled():
                return
            error = done.exception()
            if error is None:
                log.info(done.result()[2])
            else:
                log.warning(f"text prompt {msg.data!r} rejected: {_reason(error)}")

        future.add_done_callback(report)
