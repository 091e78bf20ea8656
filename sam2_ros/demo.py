# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``make demo``: video_source -> sam2_tracker -> scripted planner in one process, scored on ground truth.

The source is paced: frame i + 1 is published only once the tracker's label image and overlay
of frame i are in and the prompts sent on frame i are answered, so no frame is dropped and
every one is scored, on any machine. FPS is what this lock-step graph achieves (tracking,
prompts, transport and recording included); latency is from the planner receiving an image to
it receiving that image's label image.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

import sam2_core
from sam2_ros.demo_planner import DemoPlanner, DemoReport
from sam2_ros.seeding.discovery import make_mask_generator
from sam2_ros.tracker_factory import make_tracker
from sam2_ros.tracker_node import TrackerNode
from sam2_ros.video_source import VideoSourceNode

DEFAULT_MODEL = "sam2.1_hiera_nano"


def shipped_checkpoint(model: str) -> str:
    """Path of the checkpoint shipped in sam2_core/checkpoints for ``model``, or '' when there is none."""
    path = Path(sam2_core.__file__).resolve().parent / "checkpoints" / f"{model}.pt"
    return str(path) if path.is_file() else ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=72, help="frames to stream (default 72)")
    parser.add_argument("--seed", type=int, default=5, help="synthetic scene seed (default 5)")
    parser.add_argument("--objects", type=int, default=4, help="objects; the last is added later (default 4)")
    parser.add_argument("--scenario", default="random", help="synthetic scenario (default random)")
    parser.add_argument("--auto", action="store_true",
                        help="no scripted prompts: call the tracker's ~/segment_everything once on the first frame;"
                        " the report matches what was found to the scene's objects by IoU")  # fmt: skip
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--late-frame", type=int, default=-1, help="frame adding the last object (-1: frames/3)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"registered model name (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="checkpoint path (default: the one shipped for the model; '' for the node's default)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--image-size", type=int, default=0, help="model input size; 0 = the model's")
    parser.add_argument("--depth", action="store_true",
                        help="also publish the scene's exact depth, track in 3-D (use_depth) and report the mean 3-D"
                        " position error against the truth")  # fmt: skip
    parser.add_argument("--output-dir", default="demo_output")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each frame's outputs")
    parser.add_argument("--domain-id", type=int, default=None,
                        help="ROS domain (default: $ROS_DOMAIN_ID, else one derived from the process id so"
                        " the demo does not mix with other graphs)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error("--frames must be at least 2")
    if args.checkpoint is None:
        args.checkpoint = shipped_checkpoint(args.model)
    return args


def _wait(predicate, timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def run_demo(
    args: argparse.Namespace,
    *,
    tracker_factory: Callable[[Any], Any] = make_tracker,
    mask_generator_factory: Callable[[Any, Any], Any] = make_mask_generator,
) -> DemoReport:
    """Build the graph, stream ``args.frames`` frames through it, return the planner's report.

    ``tracker_factory`` builds the tracker from the node's parameters, ``mask_generator_factory``
    the automatic mask generator of ``--auto`` (tests pass fake ones).

    Raises RuntimeError with a reason when the graph does not come up or stops answering.
    """
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    domain = args.domain_id
    if domain is None:
        domain = int(os.environ.get("ROS_DOMAIN_ID", 0)) or 1 + os.getpid() % 200
    scene = [
        Parameter("seed", value=args.seed),
        Parameter("scenario", value=args.scenario),
        Parameter("num_objects", value=args.objects),
        Parameter("width", value=args.width),
        Parameter("height", value=args.height),
        Parameter("num_frames", value=args.frames),
    ]
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    nodes = []
    try:
        source = VideoSourceNode(
            timer=False,
            context=context,
            parameter_overrides=[*scene, Parameter("source", value="synthetic"),
                                 Parameter("reliability", value="reliable"),
                                 Parameter("publish_depth", value=bool(args.depth))],
        )  # fmt: skip
        nodes.append(source)
        tracker = TrackerNode(
            tracker_factory=tracker_factory,
            mask_generator_factory=mask_generator_factory,
            context=context,
            parameter_overrides=[
                Parameter("model", value=args.model),
                Parameter("checkpoint", value=args.checkpoint),
                Parameter("device", value=args.device),
                Parameter("image_size", value=args.image_size),
                Parameter("image_reliability", value="reliable"),
                Parameter("publish_markers", value=False),
                Parameter("use_depth", value=bool(args.depth)),
                Parameter("autostart", value=False),  # configured below, so a failure is seen at once
            ],
        )
        nodes.append(tracker)
        planner = DemoPlanner(
            context=context,
            parameter_overrides=[*scene, Parameter("late_frame", value=args.late_frame),
                                 Parameter("output_dir", value=args.output_dir),
                                 Parameter("auto_finish", value=False),
                                 Parameter("score_depth", value=bool(args.depth)),
                                 Parameter("auto", value=args.auto)],
        )  # fmt: skip
        nodes.append(planner)
        for node in nodes:
            executor.add_node(node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        started = time.monotonic()
        print(f"loading {args.model} ({args.checkpoint or 'node default weights'}) on {args.device}", flush=True)
        if tracker.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise RuntimeError("the tracker could not be configured (its log above says why)")
        if tracker.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            raise RuntimeError("the tracker could not be activated (its log above says why)")
        overlay_topic = tracker.resolve_topic_name("~/overlay")
        connected = _wait(
            lambda: (
                source.image_pub.get_subscription_count() >= 2
                and planner.label_sub.get_publisher_count() >= 1
                and planner.overlay_sub.get_publisher_count() >= 1
                and tracker.count_subscribers(overlay_topic) >= 1
                and (
                    not args.depth
                    or (
                        source.depth_pub.get_subscription_count() >= 1
                        and planner.objects_sub.get_publisher_count() >= 1
                    )
                )
                and planner.client.service_is_ready()
                and (not args.auto or planner.segment_client.service_is_ready())
            ),
            30.0,
        )
        if not connected:
            raise RuntimeError("the nodes did not discover each other within 30 s (DDS on loopback)")
        # the tracker draws the overlay only for matched subscribers; let both sides settle
        time.sleep(0.2)
        print(f"graph up in {time.monotonic() - started:.1f} s; streaming {args.frames} frames", flush=True)
        published = 0
        for i in range(args.frames):
            sent = source.publish_next()
            if sent is None:
                break
            published += 1
            if not planner.wait_frame(sent.index, args.timeout):
                raise RuntimeError(
                    f"no complete output for frame {sent.index} within {args.timeout:g} s (label image:"
                    f" {sent.index in planner.labels}; the tracker's log above may say why)"
                )
            if (i + 1) % 10 == 0:
                print(f"  {i + 1}/{args.frames} frames", flush=True)
        return planner.finish(frames_published=published)
    finally:
        executor.shutdown(timeout_sec=5)
        for node in reversed(nodes):
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print its report; the last line is ``FPS=<x> latency_p50_ms=<y> J&F=<z>``.

    Returns (and exits with) 0 on success, 1 when the graph fails or a prompt is rejected.
    """
    args = parse_args(argv)
    started = time.monotonic()
    try:
        report = run_demo(args)
    except (RuntimeError, FileNotFoundError, ValueError) as error:
        print(f"demo failed: {error}", file=sys.stderr, flush=True)
        return 1
    lines = report.lines()
    for line in lines[:-1]:
        print(line)
    print(f"wall time {time.monotonic() - started:.1f} s")
    print(lines[-1], flush=True)
    if report.failures or report.frames_tracked < args.frames:
        print("demo failed: see the failures above", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
