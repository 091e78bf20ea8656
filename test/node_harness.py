# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Drive a TrackerNode over real DDS in one process: a probe node publishes inputs and collects outputs.

Shared by the node tests. The domain id is derived from the process id so parallel test
runs on one machine do not hear each other; discovery stays on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point, PointStamped
from rcl_interfaces.msg import Log
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from sam2_ros.msg import Prompt, TrackedObjectArray
from sam2_ros.srv import AddPrompt, RemoveObject
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from sam2_ros.dds_profile import use_large_message_profile
from sam2_ros.image_conversion import fill_image
from sam2_ros.node_main import spin_executor
from sam2_ros.tracker_node import TrackerNode

DOMAIN_ID = 1 + os.getpid() % 200  # 0..232 is valid for Fast DDS; 0 (the default) is left alone
os.environ["ROS_DOMAIN_ID"] = str(DOMAIN_ID)  # for child processes too
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
# The test process talks to node processes that use the large-message Fast DDS profile (their
# main() applies it), so both ends of a 640 x 480 frame use one transport set-up, as between the
# package's own executables. Fast DDS reads the profile when this process creates its first
# participant, so it is chosen at import.
use_large_message_profile()

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
WIDTH, HEIGHT = 64, 48
ROOT = Path(__file__).resolve().parents[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


class Ros:
    """One rclpy context with a multi-threaded executor spinning in the background, and a probe node."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=DOMAIN_ID)
        self.executor = MultiThreadedExecutor(num_threads=6, context=self.context)
        self.probe = Node("sam2_test_probe", context=self.context)
        self.executor.add_node(self.probe)
        self.logs: list[Log] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.probe.create_subscription(Log, "/rosout", self.logs.append, 1000)
        self.probe.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 100)
        self._thread = threading.Thread(target=spin_executor, args=(self.executor,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5)
        self.probe.destroy_node()
        rclpy.shutdown(context=self.context)


class Harness:
    """One TrackerNode in its own namespace, plus the probe's publishers, subscriptions and clients."""

    count = 0

    def __init__(
        self,
        ros: Ros,
        factory: Callable[[Any], Any],
        node_kwargs: dict[str, Any] | None = None,
        detector_factory: Callable[[Any], Any] | None = None,
        **params: Any,
    ) -> None:
        Harness.count += 1
        self.ros = ros
        self.ns = f"/t{os.getpid()}_{Harness.count}"
        settings = {"autostart": False, "warmup": False, **params}
        self.node = TrackerNode(
            tracker_factory=factory,
            **(node_kwargs or {}),  # e.g. mask_generator_factory
            **({"detector_factory": detector_factory} if detector_factory is not None else {}),
            namespace=self.ns,
            context=ros.context,
            parameter_overrides=[Parameter(k, value=v) for k, v in settings.items()],
        )
        ros.executor.add_node(self.node)
        probe, base = ros.probe, f"{self.ns}/sam2_tracker"
        self.logger_name = f"{self.ns[1:]}.sam2_tracker"
        self._entities: list[tuple[Callable[[Any], Any], Any]] = []

        def keep(destroy: Callable[[Any], Any], entity: Any) -> Any:
            self._entities.append((destroy, entity))
            return entity

        pub, sub = probe.create_publisher, probe.create_subscription
        self.image_pub = keep(probe.destroy_publisher, pub(Image, f"{self.ns}/image", 10))
        self.compressed_pub = keep(probe.destroy_publisher, pub(CompressedImage, f"{self.ns}/image/compressed", 10))
        self.info_pub = keep(probe.destroy_publisher, pub(CameraInfo, f"{self.ns}/camera_info", 10))
        self.prompt_pub = keep(probe.destroy_publisher, pub(Prompt, f"{base}/prompts", 10))
        self.rviz_pub = keep(probe.destroy_publisher, pub(PointStamped, f"{self.ns}/clicked_point", 10))
        self.rqt_pub = keep(probe.destroy_publisher, pub(Point, f"{self.ns}/image_mouse_left", 10))
        self.received: dict[str, list[Any]] = defaultdict(list)
        outputs = {
            "label_image": Image,
            "objects": TrackedObjectArray,
            "overlay": Image,
            "markers": MarkerArray,
        }
        for name, msg_type in outputs.items():
            callback = self.received[name].append
            keep(probe.destroy_subscription, sub(msg_type, f"{base}/{name}", callback, 50))
        self.add_client = keep(probe.destroy_client, probe.create_client(AddPrompt, f"{base}/add_prompt"))
        self.remove_client = keep(probe.destroy_client, probe.create_client(RemoveObject, f"{base}/remove_object"))
        self.reset_client = keep(probe.destroy_client, probe.create_client(Trigger, f"{base}/reset"))

    def close(self) -> None:
        self.ros.executor.remove_node(self.node)
        self.node.destroy_node()
        for destroy, entity in self._entities:
            destroy(entity)

    # --- lifecycle ---
    def configure(self) -> None:
        assert self.node.trigger_configure() == SUCCESS
        for name in ("label_image", "objects", "overlay", "markers"):
            wait_until(
                lambda n=name: self.node._outputs.publishers[n].get_subscription_count() > 0, what=f"{name} matched"
            )

    def activate(self) -> None:
        assert self.node.trigger_activate() == SUCCESS
        compressed = self.node.get_parameter("image_transport").value == "compressed"
        publisher = self.compressed_pub if compressed else self.image_pub
        # Both ends of every input: a reader drops samples from writers it has not matched yet.
        writers = [publisher, self.info_pub, self.prompt_pub, self.rviz_pub, self.rqt_pub]
        wait_until(lambda: all(w.get_subscription_count() > 0 for w in writers), what="inputs matched")
        wait_until(lambda: all(r.get_publisher_count() > 0 for r in self.node._inputs), what="inputs matched")

    def start(self) -> Harness:
        self.configure()
        self.activate()
        return self

    # --- inputs ---
    def frame_msg(self, sec: int, *, encoding: str = "rgb8", width: int = WIDTH, height: int = HEIGHT) -> Image:
        channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}[encoding]
        shape = (height, width, channels) if channels > 1 else (height, width)
        pixels = np.random.default_rng(sec).integers(0, 256, shape, dtype=np.uint8)
        msg = fill_image(Image(), pixels, encoding)
        msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, 500, "cam"
        return msg

    def send(self, msg: Any) -> None:
        publisher = self.compressed_pub if isinstance(msg, CompressedImage) else self.image_pub
        publisher.publish(msg)

    def send_frame(self, sec: int, **kw: Any) -> None:
        self.send(self.frame_msg(sec, **kw))

    def output(self, name: str, sec: int, timeout: float = 10.0) -> Any:
        """The first message on output ``name`` stamped ``sec`` s."""
        return wait_until(
            lambda: next((m for m in list(self.received[name]) if stamp_sec(m) == sec), None),
            timeout,
            f"{name} stamped {sec}",
        )

    def track(self, sec: int, **kw: Any) -> tuple[Image, TrackedObjectArray]:
        """Send a frame and wait for its label image and objects (resending: images are best effort)."""
        frame = self.frame_msg(sec, **kw)
        for _ in range(10):
            self.send(frame)
            try:
                return self.output("label_image", sec, timeout=1.0), self.output("objects", sec)
            except AssertionError:
                continue
        raise AssertionError(f"no output for the frame stamped {sec}")

    def stamps(self, name: str) -> set[int]:
        return {stamp_sec(m) for m in list(self.received[name])}

    def call(self, client: Any, request: Any, timeout: float = 15.0) -> Any:
        assert client.wait_for_service(timeout_sec=timeout)
        future = client.call_async(request)
        wait_until(future.done, timeout, "service response")
        return future.result()

    def add_prompt(self, object_id: int = 1, **fields: Any) -> Any:
        """Call ~/add_prompt with a Prompt built by ``prompt(object_id, **fields)``."""
        return self.call(
            self.add_client,
            AddPrompt.Request(prompt=prompt(object_id, **fields)),
        )

    def remove(self, object_id: int) -> Any:
        return self.call(self.remove_client, RemoveObject.Request(object_id=object_id))

    def reset(self) -> Any:
        return self.call(self.reset_client, Trigger.Request())

    # --- logs ---
    def log_lines(self) -> list[str]:
        return [m.msg for m in list(self.ros.logs) if m.name == self.logger_name]

    def wait_log(self, needle: str, timeout: float = 10.0) -> str:
        return wait_until(
            lambda: next((line for line in self.log_lines() if needle in line), None),
            timeout,
            f"log '{needle}'",
        )


def stamp_sec(msg: Any) -> int:
    """Seconds of a message's stamp (a MarkerArray's is its first marker's)."""
    header = msg.markers[0].header if isinstance(msg, MarkerArray) else msg.header
    return header.stamp.sec


def prompt(object_id: int = 1, label: str = "", points: Iterable = (), point_labels=None, box: Iterable = (),
           mask: Image | None = None, stamp: tuple[int, int] = (0, 0)) -> Prompt:  # fmt: skip
    msg = Prompt(object_id=object_id, label=label)
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.points = [Point(x=float(x), y=float(y)) for x, y in points]
    msg.point_labels = [1] * len(msg.points) if point_labels is None else list(point_labels)
    msg.box = [float(v) for v in box]
    if mask is not None:
        msg.mask = mask
    return msg


class NodeProcess:
    """A child process whose log lines (stderr and stdout) are collected as they come."""

    def __init__(self, argv: list[str], base_env: dict[str, str] | None = None) -> None:
        """``base_env``: the child's environment (default: this process's), before the domain id is set."""
        base = os.environ if base_env is None else base_env
        env = {**base, "ROS_DOMAIN_ID": str(DOMAIN_ID), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_line(self, needle: str, timeout: float = 60.0) -> str:
        def found():
            assert self.proc.poll() is None, "node exited:\n" + "\n".join(self.lines)
            return next((line for line in list(self.lines) if needle in line), None)

        return wait_until(found, timeout, f"'{needle}' in the node's output")

    def interrupt(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def call(ros: Ros, srv_type, name: str, request, timeout: float = 30.0):
    client = ros.probe.create_client(srv_type, name)
    try:
        assert client.wait_for_service(timeout_sec=timeout), f"{name} not offered"
        future = client.call_async(request)
        wait_until(future.done, timeout, f"{name} response")
        return future.result()
    finally:
        ros.probe.destroy_client(client)
