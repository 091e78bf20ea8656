# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The sam2_tracker lifecycle node: images and prompts in; label images, objects, overlay, markers out.

Layout (top to bottom): construction and parameters; lifecycle transitions; inputs (image
callbacks only convert and hand the newest frame to the worker); the worker side (track,
build and publish outputs); prompts, clicks and services (all run on the worker, answered
through futures); diagnostics; main(). The maths lives in image_conversion, prompts and
outputs; the output publishers in output_publisher; threading in tracking_worker; model
loading in tracker_factory.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from geometry_msgs.msg import Point, PointStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from sam2_ros.click_frames import ClickFrames
from sam2_ros.click_geometry import CameraModel, project_click
from sam2_ros.depth.node_io import DepthInput
from sam2_ros.image_conversion import ImageConversionError, compressed_to_rgb, image_to_rgb
from sam2_ros.msg import Prompt, TrackedObject
from sam2_ros.node_main import run_node
from sam2_ros.output_publisher import OutputPublisher, output_qos
from sam2_ros.pipeline_stats import PipelineStats, StatsSnapshot, diagnostic_status
from sam2_ros.prompts import (
    PromptError,
    PromptSpec,
    click_target,
    prompt_from_click,
    stamp_to_ns,
    validate_prompt,
)
from sam2_ros.seeding.box_rules import BoxPrompter
from sam2_ros.seeding.detections import DetectionsBridge
from sam2_ros.seeding.discovery import GeneratorFactory, ObjectDiscovery, make_mask_generator
from sam2_ros.seeding.text_server import TextPromptServer, make_detector
from sam2_ros.srv import AddPrompt, RemoveObject, SegmentEverything
from sam2_ros.throttled_log import ThrottledWarnings
from sam2_ros.tracker_factory import make_tracker, release_device_memory
from sam2_ros.tracker_parameters import (
    PARAMETERS_BY_NAME,
    TrackerParams,
    check_value,
    declare_tracker_parameters,
    read_tracker_parameters,
)
from sam2_ros.tracking_session import Frame, TrackingSession
from sam2_ros.tracking_worker import TrackingWorker, WorkerStopped
from sam2_ros.transport_losses import LostFrameMonitor

# Generous: on a CPU one frame of a large model takes seconds, and a prompt waits for the
# frame in progress. A command that times out before it starts is cancelled.
SERVICE_TIMEOUT_S = 120.0
NO_INPUT_WARNING_S = 5.0
SUCCESS, FAILURE, ERROR = (
    TransitionCallbackReturn.SUCCESS,
    TransitionCallbackReturn.FAILURE,
    TransitionCallbackReturn.ERROR,
)


def _logged_transition(method: Callable[[TrackerNode, LifecycleState], TransitionCallbackReturn]) -> Any:
    """rclpy turns an exception in a transition into ERROR without a word; say what happened."""

    @functools.wraps(method)
    def wrapper(self: TrackerNode, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return method(self, state)
        except Exception:
            self.get_logger().error(f"{method.__name__} raised:\n{traceback.format_exc()}")
            return ERROR

    return wrapper


def _reason(error: BaseException) -> str:
    """A one-line reason for a service reply or a log line."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, TimeoutError):
        return f"the tracker did not answer within {SERVICE_TIMEOUT_S:g} s"
    if isinstance(error, ValueError | WorkerStopped):  # PromptError is a ValueError
        return str(error)
    return f"{type(error).__name__}: {error}"


class TrackerNode(LifecycleNode):
    """SAM 2 multi-object tracker as a ROS 2 lifecycle node (default name ``sam2_tracker``).

    configure loads the model (FAILURE keeps the node unconfigured and alive); activate
    subscribes and warms up; deactivate stops processing and frees cached device memory
    (objects are kept); cleanup drops the model. ``tracker_factory(params)`` builds the
    tracker (tests pass a fake one); ``mask_generator_factory(tracker, settings)`` builds the
    automatic mask generator of ~/segment_everything and discovery (seeding.discovery);
    ``detector_factory(params)`` the text prompts' detector.
    """

    def __init__(
        self,
        *,
        tracker_factory: Callable[[TrackerParams], Any] = make_tracker,
        mask_generator_factory: GeneratorFactory = make_mask_generator,
        detector_factory: Callable[[TrackerParams], Any] = make_detector,
        node_name: str = "sam2_tracker",
        **kwargs: Any,
    ) -> None:
        self._tracker_factory = tracker_factory
        self._mask_generator_factory = mask_generator_factory
        self._discovery: ObjectDiscovery | None = None  # segment everything, discovery, forgetting
        self._params: TrackerParams | None = None  # as read by the last configure / activate
        self._session: TrackingSession | None = None
        self._worker: TrackingWorker | None = None
        self._stats = PipelineStats()
        self._outputs: OutputPublisher | None = None  # the output publishers, from configure to cleanup
        self._servers: list[Any] = []
        self._inputs: list[Any] = []
        self._diagnostics_timer: Any = None
        self._autostart_timer: Any = None
        self._click_frames = ClickFrames()
        self._camera_info: CameraInfo | None = None
        self._stage = "unconfigured"
        self._warmed_up = False
        self._boxes: BoxPrompter | None = None  # boxes to objects (text prompts, detections), worker only
        # message-lost events of the image subscription -> frames_lost_in_transport and a warning
        self._losses = LostFrameMonitor(self._stats.lost_in_transport, lambda text: self.get_logger().warning(text))
        super().__init__(node_name, **kwargs)
        self._warnings = ThrottledWarnings(self.get_logger())
        self._text_prompts = TextPromptServer(self, detector_factory)
        self._detections = DetectionsBridge(self)
        self._input_group = MutuallyExclusiveCallbackGroup()
        self._control_group = ReentrantCallbackGroup()
        self._depth_input = DepthInput(self)  # `depth` paired with the colour images (use_depth)
        declare_tracker_parameters(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        if self.get_parameter("autostart").value:
            self._autostart_timer = self.create_timer(0.0, self._autostart)

    @property
    def stage(self) -> str:
        """unconfigured, inactive or active."""
        return self._stage

    def statistics(self) -> StatsSnapshot:
        """Counters and rates as reported on /diagnostics."""
        return self._stats.snapshot(time.monotonic_ns())

    def _live(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _on_set_parameters(self, parameters: list[Any]) -> SetParametersResult:
        for parameter in parameters:
            spec = PARAMETERS_BY_NAME.get(parameter.name)
            if spec is None:
                continue
            problem = check_value(parameter.name, parameter.value)
            if problem is None and spec.when == "configure" and self._stage != "unconfigured":
                problem = f"{parameter.name} is read when configuring; change it while unconfigured (cleanup first)"
            if problem is None and spec.when == "activate" and self._stage == "active":
                problem = f"{parameter.name} is read when activating; change it while inactive (deactivate first)"
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    def _autostart(self) -> None:
        timer, self._autostart_timer = self._autostart_timer, None
        if timer is None:  # a second tick that raced the timer's destruction
            return
        timer.cancel()
        self.destroy_timer(timer)
        if self.trigger_configure() != SUCCESS:
            self.get_logger().error(
                "autostart: configure failed (reason above); the node stays unconfigured. Fix the parameters"
                " and configure it again (ros2 lifecycle set <node> configure)."
            )
        elif self.trigger_activate() != SUCCESS:
            self.get_logger().error("autostart: activate failed (reason above); the node stays inactive.")

    # --- lifecycle ----------------------------------------------------------------------
    @_logged_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model. FAILURE (node stays unconfigured) for bad parameters or checkpoints."""
        log = self.get_logger()
        try:
            params = read_tracker_parameters(self)
        except ValueError as error:
            log.error(f"configure failed: {error}")
            return FAILURE
        log.info(
            f"loading {params.model} (checkpoint: {params.checkpoint or 'none'}, device: {params.device},"
            f" dtype: {params.dtype}, image_size: {params.image_size or 'default'})"
        )
        started = time.monotonic()
        try:
            tracker = self._tracker_factory(params)
        except Exception as error:
            log.error(
                f"configure failed: cannot load model '{params.model}': {_reason(error)}. The node stays"
                " unconfigured; fix the parameters and configure again."
            )
            release_device_memory()
            return FAILURE
        if not params.checkpoint:
            log.warning(
                "checkpoint is empty: using the weights bundled with sam2_core (the small sam2.1_hiera_nano,"
                " trained on synthetic scenes only, unless the model ships its own); set `checkpoint` to an"
                " official SAM 2.1 file for real cameras"
            )
        self._params = params
        self._session = TrackingSession(tracker)
        self._worker = TrackingWorker(self._process_frame, on_frame_error=self._on_frame_error)
        self._discovery = ObjectDiscovery(
            self._session, live=self._live, max_objects=params.max_objects, reason=_reason, log=log,
            call_worker=lambda command: self._call_worker(command, True), warn_throttled=self._warn_throttled,
            generator_factory=self._mask_generator_factory,
        )  # fmt: skip
        self._worker.start()
        qos = output_qos(params.output_reliability, params.output_qos_depth)
        self._outputs = OutputPublisher(self, self._live, qos)
        self._create_services()
        self._boxes = BoxPrompter(self._session)
        self._text_prompts.configure(params, self._worker, self._outputs, self._boxes, self._control_group)
        self._detections.configure(params, self._worker, self._boxes)
        self._stats.reset()
        self._warmed_up, self._camera_info = False, None
        self._stage = "inactive"
        log.info(f"configured in {time.monotonic() - started:.1f} s")
        return super().on_configure(state)

    @_logged_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable outputs, subscribe to inputs, warm the model up (first activation after configure).

        The warm-up is queued before the subscriptions exist, so it runs first, and frames and
        prompts that arrive meanwhile wait in the worker's queue instead of being lost.
        FAILURE (back to inactive) when the warm-up raises.
        """
        try:
            params = read_tracker_parameters(self)
        except ValueError as error:
            self.get_logger().error(f"activate failed: {error}")
            return FAILURE
        self._params = params
        self._apply_output_qos(params)
        warmup = self._worker.submit(self._session.warmup) if params.warmup and not self._warmed_up else None
        result = super().on_activate(state)
        self._stage = "active"  # before subscribing: the first frame may arrive at once
        self._create_subscriptions(params)
        self._outputs.objects_3d.start(params.use_depth)
        self._text_prompts.activate(self._control_group)
        self._detections.activate(params, self._control_group)
        self._start_tf()
        if params.diagnostics_period_s > 0:
            self._diagnostics_timer = self.create_timer(
                params.diagnostics_period_s, self._publish_diagnostics, callback_group=self._control_group
            )
        if warmup is not None:
            started = time.monotonic()
            self.get_logger().info("warming the model up")
            try:
                done = warmup.result()
            except Exception as error:
                self.get_logger().error(f"activate failed: warm-up raised {_reason(error)}")
                self._stage = "inactive"
                self._stop_inputs()
                super().on_deactivate(state)
                return FAILURE
            self.get_logger().info(f"warm-up took {time.monotonic() - started:.1f} s ({done})")
            self._warmed_up = True
        self.get_logger().info(f"active: tracking images from {self._image_topic(params)}")
        return result

    @_logged_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop taking frames, finish the one in progress, free cached device memory; keep the objects."""
        self._stage = "inactive"
        self._stop_inputs()
        if self._worker is not None:
            self._worker.clear_pending()
            self._worker.call(release_device_memory)  # runs after the frame in progress
        return super().on_deactivate(state)

    @_logged_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Drop the model and everything configure made."""
        self._teardown()
        return super().on_cleanup(state)

    @_logged_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return super().on_shutdown(state)

    @_logged_transition
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Recover to unconfigured: drop everything, so the node can be configured again."""
        self._teardown()
        return SUCCESS

    def destroy_node(self) -> None:
        self._teardown()
        super().destroy_node()

    def _apply_output_qos(self, params: TrackerParams) -> None:
        """output_reliability / output_qos_depth changed while inactive: new output publishers, activated next."""
        qos = output_qos(params.output_reliability, params.output_qos_depth)
        if self._outputs is not None and self._outputs.qos != qos:
            self._outputs.set_qos(qos)
            self.get_logger().info(f"outputs now {params.output_reliability}, depth {params.output_qos_depth}")

    def _create_services(self) -> None:
        group = self._control_group
        self._servers = [
            self.create_service(AddPrompt, "~/add_prompt", self._on_add_prompt, callback_group=group),
            self.create_service(RemoveObject, "~/remove_object", self._on_remove_object, callback_group=group),
            self.create_service(Trigger, "~/reset", self._on_reset, callback_group=group),
            self.create_service(
                SegmentEverything, "~/segment_everything", self._discovery.on_segment_everything, callback_group=group
            ),
        ]

    def _image_topic(self, params: TrackerParams) -> str:
        if params.image_transport != "compressed":
            return self.resolve_topic_name("image")
        remapped = self.resolve_topic_name("image/compressed")
        if remapped != self.resolve_topic_name("image/compressed", only_expand=True):
            return remapped
        # image_transport's convention: remapping `image` also moves its compressed topic.
        return self.resolve_topic_name("image") + "/compressed"

    def _create_subscriptions(self, params: TrackerParams) -> None:
        reliability = (
            ReliabilityPolicy.RELIABLE if params.image_reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
        )
        sensor = QoSProfile(depth=params.image_qos_depth, history=HistoryPolicy.KEEP_LAST, reliability=reliability)
        control = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        image_type, on_image = (
            (CompressedImage, self._on_compressed_image)
            if params.image_transport == "compressed"
            else (Image, self._on_image)
        )
        inputs, controls = self._input_group, self._control_group
        topic = self._image_topic(params)
        self._losses.restart(
            topic=topic, image_reliability=params.image_reliability, image_transport=params.image_transport
        )
        create_image_subscription = functools.partial(
            self.create_subscription, image_type, topic, on_image, sensor, callback_group=inputs
        )
        self._inputs = [
            self._losses.subscribe(create_image_subscription, report=self.get_logger().info),
            self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, sensor, callback_group=inputs),
            self.create_subscription(Prompt, "~/prompts", self._on_prompt, control, callback_group=controls),
            self.create_subscription(
                PointStamped, "clicked_point", self._on_clicked_point, control, callback_group=controls
            ),
            self.create_subscription(Point, "image_mouse_left", self._on_image_click, control, callback_group=controls),
        ]
        if params.use_depth:
            self._depth_input.start(params.depth_slop_s, sensor, inputs, self._deliver_with_depth)

    def _start_tf(self) -> None:
        if not self._click_frames.start(self):
            self.get_logger().info("tf2_ros is not installed: RViz clicks are used only in the image's frame")

    def _stop_inputs(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        self._depth_input.stop()
        if self._outputs is not None:
            self._outputs.objects_3d.stop()
        self._text_prompts.deactivate()
        self._detections.deactivate()
        self._click_frames.stop()
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None

    def _teardown(self) -> None:
        self._stage = "unconfigured"
        self._stop_inputs()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._outputs is not None:
            self._outputs.destroy()
        for server in self._servers:
            self.destroy_service(server)
        self._text_prompts.cleanup()
        self._detections.cleanup()
        self._outputs, self._servers, self._session, self._params, self._boxes = None, [], None, None, None
        self._discovery = None
        release_device_memory()

    # --- inputs (executor threads: convert and hand over, nothing more) ------------------
    def _on_image(self, msg: Image) -> None:
        receipt = time.monotonic_ns()
        self._stats.received(receipt)
        try:
            rgb = image_to_rgb(msg)
        except ImageConversionError as error:
            self._reject_frame(f"image rejected: {error}")
            return
        self._submit_frame(msg.header, rgb, receipt)

    def _on_compressed_image(self, msg: CompressedImage) -> None:
        receipt = time.monotonic_ns()
        self._stats.received(receipt)
        try:
            rgb = compressed_to_rgb(msg)
        except ImageConversionError as error:
            self._reject_frame(f"compressed image rejected: {error}")
            return
        self._submit_frame(msg.header, rgb, receipt)

    def _submit_frame(self, header: Header, rgb: Any, receipt_ns: int) -> None:
        stamp = stamp_to_ns(header.stamp)
        if self._worker is None or self._stage != "active":
            return
        self._detections.saw_image(stamp)
        frame = Frame(header, rgb, receipt_ns, stamp)
        if self._depth_input.active:
            self._depth_input.add_colour(frame)  # on to the worker with its depth: _deliver_with_depth
        else:
            self._hand_to_worker(frame)

    def _deliver_with_depth(self, frame: Frame, depth: Image | None) -> None:
        frame.depth = depth
        self._hand_to_worker(frame)

    def _hand_to_worker(self, frame: Frame) -> None:
        worker = self._worker
        if worker is None or self._stage != "active":
            return
        try:
            if worker.submit_frame(frame):
                self._stats.dropped()
        except WorkerStopped:
            pass

    def _reject_frame(self, text: str) -> None:
        self._stats.rejected()
        self._warn_throttled(text)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _warn_throttled(self, text: str) -> None:
        """Log each distinct warning at most once per 5 s, so a bad stream cannot flood the log."""
        self._warnings.warn(text)

    # --- worker side: track, then build and publish the outputs -------------------------
    def _process_frame(self, frame: Frame) -> None:
        result = self._session.track(frame)
        self._boxes.note_frame(result)  # before forgetting clears the session's latest result
        self._publish_result(frame, result)
        self._discovery.after_frame(frame, result)  # forgetting, and discovery when it is due
        self._text_prompts.after_frame(frame)  # continuous text prompts, when due

    def _on_frame_error(self, error: BaseException) -> None:
        self._stats.rejected()
        self._warn_throttled(f"frame not tracked: {_reason(error)}")

    def _publish_result(self, frame: Frame, result: Any) -> None:
        on_published = functools.partial(self._stats.published, frame.receipt_ns)
        self._outputs.publish_frame(frame, result, dict(self._session.names), self._camera_info, on_published)

    def _apply_spec(self, spec: PromptSpec) -> tuple[TrackedObject, str]:
        is_new = spec.object_id not in self._session.names
        try:
            result = self._session.add_prompt(spec)
        except (ValueError, KeyError) as error:
            raise PromptError(f"tracker rejected the prompt: {_reason(error)}") from error
        obj = self._outputs.object_after_prompt(result, spec.object_id, self._session.names.get(spec.object_id, ""))
        verb = "added" if is_new else "refined"
        return obj, f"object {spec.object_id} ('{obj.label}') {verb} from {spec.source}"

    def _apply_prompt(self, msg: Prompt, source: str) -> tuple[TrackedObject, str]:
        session = self._session
        spec = validate_prompt(
            msg,
            frame=session.frame,
            known_ids=session.object_ids,
            max_objects=self._params.max_objects,
            max_prompt_age_s=self._live("max_prompt_age_s"),
            source=source,
        )
        return self._apply_spec(spec)

    def _apply_click(self, x: float, y: float, source: str) -> tuple[TrackedObject, str]:
        session = self._session
        object_id = click_target(
            self._live("click_mode"), session.object_ids, session.last_added, session.next_object_id()
        )
        spec = prompt_from_click(
            x, y, object_id=object_id, frame=session.frame, known_ids=session.object_ids,
            max_objects=self._params.max_objects, source=source,
        )  # fmt: skip
        return self._apply_spec(spec)

    # --- prompts and clicks from topics (queued; the outcome is logged) ------------------
    def _submit_command(self, command: Callable[[], tuple[TrackedObject, str]], what: str) -> None:
        worker = self._worker
        if worker is None or self._stage != "active":
            self.get_logger().warning(f"{what} ignored: the node is {self._stage}, not active")
            return

        def report(future: Any) -> None:
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                self.get_logger().info(future.result()[1])
            else:
                self.get_logger().warning(f"{what} rejected: {_reason(error)}")

        try:
            worker.submit(command).add_done_callback(report)
        except WorkerStopped as error:
            self.get_logger().warning(f"{what} ignored: {error}")

    def _on_prompt(self, msg: Prompt) -> None:
        self._submit_command(lambda: self._apply_prompt(msg, "the prompts topic"), f"prompt for object {msg.object_id}")

    def _on_image_click(self, msg: Point) -> None:
        self._submit_command(lambda: self._apply_click(msg.x, msg.y, "an image click"), "image click")

    def _on_clicked_point(self, msg: PointStamped) -> None:
        info = self._camera_info
        if info is None:
            self.get_logger().warning("RViz click ignored: no camera_info received yet (clicks are projected with it)")
            return
        session = self._session
        try:
            camera = CameraModel.from_camera_info(info)
            image_frame = session.frame.frame_id if session and session.frame else ""
            xyz = self._click_frames.to_camera_frame(msg, camera.frame_id or image_frame)
        except PromptError as error:
            self.get_logger().warning(f"RViz click ignored: {error}")
            return
        rectified = bool(self._live("rectified_image"))

        def command() -> tuple[TrackedObject, str]:
            u, v = project_click(xyz, camera, self._session.frame, rectified=rectified)
            return self._apply_click(u, v, "an RViz click")

        self._submit_command(command, "RViz click")

    # --- services (answered from the worker through futures; executor threads only wait) ---
    def _call_worker(self, command: Callable[[], Any], needs_active: bool) -> Any:
        worker = self._worker
        if worker is None or (needs_active and self._stage != "active"):
            raise WorkerStopped(f"the node is {self._stage}, not {'active' if needs_active else 'configured'}")
        return worker.call(command, timeout=SERVICE_TIMEOUT_S)

    def _on_add_prompt(self, request: AddPrompt.Request, response: AddPrompt.Response) -> AddPrompt.Response:
        try:
            obj, message = self._call_worker(lambda: self._apply_prompt(request.prompt, "the add_prompt service"), True)
        except Exception as error:
            response.success, response.message = False, _reason(error)
            self.get_logger().warning(f"add_prompt for object {request.prompt.object_id} rejected: {response.message}")
            return response
        response.success, response.message, response.object = True, message, obj
        self.get_logger().info(message)
        return response

    def _on_remove_object(
        self, request: RemoveObject.Request, response: RemoveObject.Response
    ) -> RemoveObject.Response:
        object_id = int(request.object_id)
        try:
            self._call_worker(lambda: self._session.remove(object_id), False)
        except Exception as error:
            response.success, response.message = False, _reason(error)
            self.get_logger().warning(f"remove_object {object_id} rejected: {response.message}")
            return response
        response.success, response.message = True, f"object {object_id} removed"
        self.get_logger().info(response.message)
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            count = self._call_worker(lambda: self._session.reset(), False)
        except Exception as error:
            response.success, response.message = False, _reason(error)
            return response
        response.success, response.message = True, f"reset: forgot {count} object(s)"
        self.get_logger().info(response.message)
        return response

    # --- diagnostics ----------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        outputs = self._outputs
        if outputs is None:  # a tick already dispatched when cleanup or shutdown removed the publishers
            return
        model = getattr(self._session.tracker, "model", None) if self._session else None
        device = str(getattr(model, "device", None) or (self._params.device if self._params else "none"))
        status = diagnostic_status(
            f"{self.get_fully_qualified_name()}: tracking",
            self.statistics(),
            device=device,
            image_topic=self._image_topic(self._params),
            stale_after_s=NO_INPUT_WARNING_S,
        )
        discovery = self._discovery
        if discovery is not None:
            status.values += [KeyValue(key=k, value=str(v)) for k, v in discovery.diagnostic_values().items()]
        header = Header(stamp=self.get_clock().now().to_msg())
        outputs.publish_diagnostics(DiagnosticArray(header=header, status=[status]))


def main(args: list[str] | None = None, *, tracker_factory: Callable[[TrackerParams], Any] = make_tracker) -> None:
    """Entry point: ``ros2 run sam2_ros tracker_node`` / ``python -m sam2_ros.tracker_node``.

    Spins until SIGINT/SIGTERM, then shuts down cleanly (exit status 0).
    """
    run_node(args, "sam2_tracker", lambda: TrackerNode(tracker_factory=tracker_factory), threads=4)


if __name__ == "__main__":
    main()
