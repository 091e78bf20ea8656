# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_ros.bench_node``: the real sam2_tracker node over real DDS, timed frame by frame.

The node runs in this process (its own namespace and DDS domain) next to a probe node that
publishes a synthetic clip on ``image`` at ``--rate-hz`` (0: the next frame as soon as the last
one's outputs are back), prompts ``--objects`` objects on the first frame through the
``add_prompt`` service, and subscribes to ``label_image`` and ``objects``. Everything crosses
Fast DDS as between processes. To split the node's time, three of its methods are wrapped (the
node itself is unchanged): the image callback's hand-over to the worker, the worker's per-frame
work, and the tracker's ``track``. Per frame:

- tracker step: ``Tracker.track`` (preprocessing, model, outputs left on the device);
- node overhead: the image callback's conversion plus the worker's work minus the step (the
  label image, geometry, messages, publishing), i.e. everything between receiving the image and
  publishing its last output except the step and any wait for the worker;
- queue: from hand-over to the worker starting the frame (0 unless frames arrive faster);
- latency: the probe's publish of the image to its receipt of the label image.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import rclpy
import torch
from geometry_msgs.msg import Point
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from sam2_core.bench import FrameSource, random_checkpoint
from sam2_core.bench_measure import device_name
from sam2_ros.dds_profile import use_large_message_profile
from sam2_ros.image_conversion import fill_image
from sam2_ros.msg import Prompt, TrackedObjectArray
from sam2_ros.node_main import spin_executor
from sam2_ros.srv import AddPrompt
from sam2_ros.tracker_factory import make_tracker
from sam2_ros.tracker_node import TrackerNode

NS_PER_MS = 1e6
SUCCESS = TransitionCallbackReturn.SUCCESS


class TimedTracker:
    """A tracker whose ``track`` calls are timed (worker thread); everything else passes through."""

    def __init__(self, tracker: Any) -> None:
        self._tracker = tracker
        self.steps_ns: list[tuple[int, int]] = []  # (start, end) of each track call

    def track(self, frame: Any) -> Any:
        start = time.monotonic_ns()
        result = self._tracker.track(frame)
        self.steps_ns.append((start, time.monotonic_ns()))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker, name)


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else None


def machine(device: str) -> dict:
    on_cuda = device.startswith("cuda")
    return {
        "device": device,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if on_cuda else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


# ---------------------------------------------------------------------------------------- run
class NodeBench:
    """One benchmark run: the node, the probe, the clip, and what was recorded."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.frames_ns: dict[int, dict[str, int]] = {}  # frame number -> timestamps
        self.lock = threading.Lock()
        self.outputs = threading.Condition()
        self.tracker: TimedTracker | None = None

    # --- the clip ---
    def render_clip(self) -> tuple[list[Any], list[tuple[int, np.ndarray, np.ndarray]]]:
        a = self.args
        distinct = min(a.frames + 1, a.distinct_frames)
        source = FrameSource(
            argparse.Namespace(video=None, frames=distinct, objects=[a.objects], height=a.height, width=a.width, seed=0)
        )
        messages = [fill_image(Image(), rgb, "rgb8") for rgb in source.frames()]
        for msg in messages:
            msg.header.frame_id = "bench_camera"
        return messages, source.clicks(a.objects)

    # --- the node, with its three timing points ---
    def make_node(self, context: Any, namespace: str) -> Any:
        a = self.args

        def factory(params: Any) -> TimedTracker:
            self.tracker = TimedTracker(make_tracker(params))
            return self.tracker

        params = {
            "model": a.model,
            "checkpoint": a.checkpoint or "",
            "device": a.device,
            "dtype": a.dtype,
            "compile": a.compile,
            "image_size": a.image_size,
            "max_objects": max(a.objects, a.max_objects or 0),
            "warmup": True,
            "autostart": False,
            "image_reliability": "reliable",  # every frame counts; drops are the node's own
            "diagnostics_period_s": 0.0,
        }
        node = TrackerNode(
            tracker_factory=factory,
            namespace=namespace,
            context=context,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
        )
        submit, process = node._submit_frame, node._process_frame

        def timed_submit(header: Any, rgb: Any, receipt_ns: int) -> None:
            self._stamp(header.stamp.sec, receipt=receipt_ns, submitted=time.monotonic_ns())
            submit(header, rgb, receipt_ns)

        def timed_process(frame: Any) -> None:
            start = time.monotonic_ns()
            steps_before = len(self.tracker.steps_ns)
            process(frame)
            end = time.monotonic_ns()
            step = sum(e - s for s, e in self.tracker.steps_ns[steps_before:])
            self._stamp(frame.header.stamp.sec, started=start, ended=end, step=step)

        # the worker and the image callback look these up on the instance (before configure)
        node._submit_frame, node._process_frame = timed_submit, timed_process
        return node

    def _stamp(self, frame: int, **values: int) -> None:
        with self.lock:
            self.frames_ns.setdefault(frame, {}).update(values)

    def _received(self, kind: str, msg: Any) -> None:
        self._stamp(msg.header.stamp.sec, **{kind: time.monotonic_ns()})
        with self.outputs:
            self.outputs.notify_all()

    def _wait_output(self, frame: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.outputs:
            while "objects" not in self.frames_ns.get(frame, {}) or "labels" not in self.frames_ns.get(frame, {}):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.outputs.wait(left)
        return True

    def run(self) -> dict:
        a = self.args
        messages, clicks = self.render_clip()
        use_large_message_profile()
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        context = Context()
        rclpy.init(context=context, domain_id=a.domain_id)
        executor = MultiThreadedExecutor(num_threads=4, context=context)
        namespace = f"/sam2_bench_{os.getpid()}"
        node = self.make_node(context, namespace)
        probe = Node("sam2_bench_probe", context=context)
        for n in (node, probe):
            executor.add_node(n)
        spinner = threading.Thread(target=spin_executor, args=(executor,), daemon=True)
        spinner.start()
        reliable = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        base = f"{namespace}/sam2_tracker"
        publisher = probe.create_publisher(Image, f"{namespace}/image", reliable)
        probe.create_subscription(Image, f"{base}/label_image", lambda m: self._received("labels", m), reliable)
        probe.create_subscription(
            TrackedObjectArray, f"{base}/objects", lambda m: self._received("objects", m), reliable
        )
        client = probe.create_client(AddPrompt, f"{base}/add_prompt")
        result: dict = {}
        try:
            started = time.monotonic()
            if node.trigger_configure() != SUCCESS:
                raise SystemExit("error: the node did not configure (see its log above)")
            configured = time.monotonic()
            if node.trigger_activate() != SUCCESS:
                raise SystemExit("error: the node did not activate (see its log above)")
            activated = time.monotonic()
            _wait(lambda: publisher.get_subscription_count() > 0, 30, "the node's image subscription")
            _wait(lambda: client.wait_for_service(timeout_sec=0.1), 30, "the add_prompt service")
            # frame 0, then one click per object on it
            self._publish(publisher, messages[0], 0)
            if not self._wait_output(0, a.timeout_s):
                raise SystemExit("error: no output for the first frame")
            for obj_id, points, labels in clicks:
                request = AddPrompt.Request()
                request.prompt = Prompt(object_id=int(obj_id), label=f"object {obj_id}")
                request.prompt.points = [Point(x=float(x), y=float(y)) for x, y in points]
                request.prompt.point_labels = [int(v) for v in labels]
                future = client.call_async(request)
                _wait(future.done, a.timeout_s, f"add_prompt for object {obj_id}")
                if not future.result().success:
                    raise SystemExit(f"error: prompt for object {obj_id} rejected: {future.result().message}")
            self._stream(publisher, messages)
            result = self._summarise(configured - started, activated - configured)
        finally:
            executor.shutdown(timeout_sec=5)
            node.destroy_node()
            probe.destroy_node()
            rclpy.shutdown(context=context)
        return result

    def _publish(self, publisher: Any, msg: Any, frame: int) -> None:
        msg.header.stamp.sec, msg.header.stamp.nanosec = frame, 0
        self._stamp(frame, published=time.monotonic_ns())
        publisher.publish(msg)

    def _stream(self, publisher: Any, messages: list[Any]) -> None:
        a = self.args
        period = 1.0 / a.rate_hz if a.rate_hz > 0 else 0.0
        next_time = time.monotonic()
        for frame in range(1, a.frames + 1):
            msg = messages[frame % len(messages)]
            if period:
                delay = next_time - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_time += period
                self._publish(publisher, msg, frame)
            else:
                self._publish(publisher, msg, frame)
                self._wait_output(frame, a.timeout_s)  # as fast as it keeps up: one frame in flight
        deadline = time.monotonic() + a.timeout_s
        while time.monotonic() < deadline and not self._wait_output(a.frames, 0.2):
            pass

    def _summarise(self, configure_s: float, activate_s: float) -> dict:
        a = self.args
        with self.lock:
            frames = {k: dict(v) for k, v in self.frames_ns.items() if 1 <= k <= a.frames}
        done = [v for v in frames.values() if {"labels", "objects", "step", "ended"} <= set(v)]
        step = [v["step"] / NS_PER_MS for v in done]
        overhead = [
            ((v["submitted"] - v["receipt"]) + (v["ended"] - v["started"] - v["step"])) / NS_PER_MS for v in done
        ]
        queue = [(v["started"] - v["submitted"]) / NS_PER_MS for v in done]
        latency = [(v["labels"] - v["published"]) / NS_PER_MS for v in done]
        receipts = sorted(v["objects"] for v in done)
        output_hz = (len(receipts) - 1) / ((receipts[-1] - receipts[0]) * 1e-9) if len(receipts) > 1 else None
        summary = {
            "model": a.model,
            "objects": a.objects,
            "width": a.width,
            "height": a.height,
            "frames": a.frames,
            "rate_hz": a.rate_hz,
            "dtype": a.dtype,
            "compile": a.compile,
            "frames_with_output": len(done),
            "frames_dropped": a.frames - len(done),
            "tracker_step_ms_p50": percentile(step, 50),
            "tracker_step_ms_p99": percentile(step, 99),
            "node_overhead_ms_p50": percentile(overhead, 50),
            "node_overhead_ms_p99": percentile(overhead, 99),
            "queue_ms_p50": percentile(queue, 50),
            "latency_ms_p50": percentile(latency, 50),
            "latency_ms_p99": percentile(latency, 99),
            "output_hz": output_hz,
            "configure_s": configure_s,
            "activate_s": activate_s,  # the warm-up (compiling every bucket with --compile)
            **machine(a.device if a.device != "auto" else _auto_device()),
        }
        return summary


def _auto_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"error: timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def format_table(rows: Sequence[dict]) -> str:
    head = (
        "| model | objects | frame | rate Hz | device | compile | tracker step p50 ms | node overhead p50 / p99 ms "
        "| latency p50 / p99 ms | output Hz | dropped |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def f(value: float | None, spec: str = ".1f") -> str:
        return "-" if value is None else format(value, spec)

    for r in rows:
        lines.append(
            f"| {r['model']} | {r['objects']} | {r['width']} x {r['height']} | {r['rate_hz']:g} | {r['device']} "
            f"| {'yes' if r['compile'] else 'no'} | {f(r['tracker_step_ms_p50'])} "
            f"| {f(r['node_overhead_ms_p50'])} / {f(r['node_overhead_ms_p99'])} "
            f"| {f(r['latency_ms_p50'])} / {f(r['latency_ms_p99'])} | {f(r['output_hz'], '.2f')} "
            f"| {r['frames_dropped']} of {r['frames']} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sam2_ros.bench_node",
        description="Time the sam2_tracker node (tracker step, the node's own work, end-to-end latency) "
        "on a synthetic clip over real DDS.",
    )
    parser.add_argument("--model", default="sam2.1_hiera_nano")
    parser.add_argument("--checkpoint", help="official-format checkpoint (default: the bundled weights)")
    parser.add_argument(
        "--random-weights", action="store_true", help="seeded random weights for models without bundled ones"
    )
    parser.add_argument("--objects", type=int, default=5, help="objects prompted on the first frame")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=30, help="timed frames after the prompted first one")
    parser.add_argument("--rate-hz", type=float, default=0.0, help="publish rate; 0 = as fast as it keeps up")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--compile", action="store_true", help="the node's compile parameter")
    parser.add_argument("--image-size", type=int, default=0, help="model input size; 0 = the model's")
    parser.add_argument("--max-objects", type=int, help="the node's max_objects (default: --objects)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: 1 with --device cpu, as sam2_core.bench: on a shared machine a thread "
        "team stalls whenever one of its threads is descheduled; torch's default on a GPU)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the summary as a JSON object to OUT")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="wait at most this long for an output")
    parser.add_argument("--distinct-frames", type=int, default=60, help="frames rendered (the clip repeats)")
    parser.add_argument("--domain-id", type=int, default=1 + os.getpid() % 200, help="DDS domain of the run")
    args = parser.parse_args(argv)
    if args.objects < 1 or args.frames < 2 or args.width < 16 or args.height < 16 or args.rate_hz < 0:
        parser.error("need --objects >= 1, --frames >= 2, --width/--height >= 16, --rate-hz >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads or args.device == "cpu":
        torch.set_num_threads(args.threads or 1)
    try:
        with tempfile.TemporaryDirectory() as folder:
            if args.random_weights and not args.checkpoint:
                args.checkpoint = random_checkpoint(args.model, 0, folder)
            summary = NodeBench(args).run()
    finally:
        torch.set_num_threads(threads)  # main() may run inside another program (tests)
    print(format_table([summary]))
    print(
        f"tracker_step_ms_p50={summary['tracker_step_ms_p50']} node_overhead_ms_p50={summary['node_overhead_ms_p50']}"
        f" latency_ms_p50={summary['latency_ms_p50']} output_hz={summary['output_hz']}"
        f" frames_dropped={summary['frames_dropped']}",
        file=sys.stderr,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
