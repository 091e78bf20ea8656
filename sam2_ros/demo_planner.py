# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The demo's scripted planner: prompts the tracker from the synthetic scene's ground truth, records, scores.

It regenerates the scene the video_source publishes (same seed and size), counts the images it
receives to know each frame's index, and when the tracker's label image of a frame arrives it
sends the prompts due on that frame (clicks on the deepest interior point, boxes around the
mask), stamped with that frame's stamp. With ``output_dir`` set it also writes the overlay
video and PNGs and ends with the summary line (J&F against the ground truth).
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from geometry_msgs.msg import Point
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from sam2_core.synthetic import SyntheticScene
from sam2_ros.calibration import pinhole_calibration
from sam2_ros.demo_scoring import (
    DemoScore,
    OverlayRecorder,
    PositionScore,
    match_objects,
    percentile,
    relabel,
    score_positions,
    score_tracking,
    snapshot_indices,
    summary_line,
)
from sam2_ros.frame_sources import scene_config
from sam2_ros.image_conversion import image_to_array, image_to_rgb
from sam2_ros.msg import Prompt, TrackedObjectArray
from sam2_ros.node_main import run_node
from sam2_ros.prompts import stamp_to_ns
from sam2_ros.srv import AddPrompt, SegmentEverything


@dataclass(frozen=True)
class PlannedPrompt:
    """Prompt ``object_id`` by ``kind`` ("click" or "box") on frame ``frame``, or the next it shows on."""

    object_id: int
    frame: int
    kind: str


def demo_schedule(num_objects: int, late_frame: int) -> list[PlannedPrompt]:
    """Objects 1 .. K-1 on frame 0, alternately by click and box; object K later, on ``late_frame``, by click.

    With a single object it is clicked on frame 0.
    """
    if num_objects < 1:
        raise ValueError("the demo needs at least one object")
    if num_objects == 1:
        return [PlannedPrompt(1, 0, "click")]
    early = [PlannedPrompt(k, 0, "click" if k % 2 else "box") for k in range(1, num_objects)]
    return [*early, PlannedPrompt(num_objects, max(1, late_frame), "click")]


def interior_point(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) of the mask pixel farthest from its boundary: a click no one would place on an edge.

    ``mask``: H x W bool, not empty. Ties go to the first pixel in row-major order.
    """
    padded = np.pad(mask.astype(np.uint8), 1)  # so the image border counts as boundary
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    if depth.max() <= 0:
        raise ValueError("mask is empty")
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return float(x), float(y)


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """[x_min, y_min, x_max, y_max] of the mask's pixels (inclusive pixel coordinates)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise ValueError("mask is empty")
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def prompt_message(planned: PlannedPrompt, mask: np.ndarray, header: Any, label: str = "") -> Prompt:
    """The Prompt for ``planned`` on a frame where the object's ground-truth mask is ``mask`` (H x W bool)."""
    msg = Prompt(header=header, object_id=planned.object_id, label=label)
    if planned.kind == "click":
        x, y = interior_point(mask)
        msg.points = [Point(x=x, y=y, z=0.0)]
        msg.point_labels = [1]
    elif planned.kind == "box":
        msg.box = [float(v) for v in mask_box(mask)]
    else:
        raise ValueError(f"unknown prompt kind '{planned.kind}'")
    return msg


def due_prompts(
    schedule: list[PlannedPrompt], index: int, done: set[int], areas: np.ndarray, min_area_px: int
) -> list[PlannedPrompt]:
    """Prompts to send on frame ``index``: scheduled by now, not sent, object showing >= min_area_px pixels.

    areas: K visible pixel counts of objects 1..K on this frame.
    """
    return [
        p for p in schedule if p.frame <= index and p.object_id not in done and areas[p.object_id - 1] >= min_area_px
    ]


@dataclass
class DemoReport:
    """What the planner measured: J&F, throughput, latency, and where the outputs went."""

    score: DemoScore
    fps: float
    latency_p50_ms: float
    frames_tracked: int
    frames_published: int
    prompts: dict[int, int]
    failures: list[str] = field(default_factory=list)
    video_path: str = ""
    video_frames: int = 0
    png_paths: list[str] = field(default_factory=list)
    positions: PositionScore | None = None  # with score_depth: 3-D positions against the truth
    notes: list[str] = field(default_factory=list)  # e.g. what segment_everything found (--auto)

    def lines(self) -> list[str]:
        s = self.score
        objects = ", ".join(f"{k}: {v:.3f}" for k, v in sorted(s.per_object.items()))
        out = [
            f"frames: {self.frames_tracked} tracked of {self.frames_published} sent;"
            f" prompts (object: frame): {dict(sorted(self.prompts.items()))}",
            f"J={s.j:.3f} F={s.f:.3f}; J&F per object: {objects or 'none'}",
        ]
        if self.positions is not None:
            out.append(self.positions.line())
        out += self.notes
        if self.video_path:
            out.append(f"overlay: {self.video_path} ({self.video_frames} frames); PNGs: {', '.join(self.png_paths)}")
        out += [f"failure: {f}" for f in self.failures]
        out.append(summary_line(self.fps, self.latency_p50_ms, s.jf))
        return out


# Scene parameters default to the video_source's, so the two describe one scene out of the box.
PARAMETERS: dict[str, tuple[Any, str]] = {
    "seed": (0, "scene seed (as the video_source's)"),
    "scenario": ("random", "scene scenario (as the video_source's)"),
    "num_objects": (3, "objects in the scene (as the video_source's): K-1 prompted on frame 0, one later"),
    "width": (0, "frame width (as the video_source's; 0 = 640)"),
    "height": (0, "frame height (as the video_source's; 0 = 480)"),
    "num_frames": (120, "scene length (as the video_source's); the summary follows its last frame"),
    "late_frame": (-1, "frame on which the last object is added; -1 = num_frames / 3"),
    "min_area_px": (100, "an object is prompted only once this many of its pixels show"),
    "tracker": ("sam2_tracker", "name of the tracker node (its topics are <tracker>/label_image, ...)"),
    "prompt_via": ("service", "service (~/add_prompt, answered) or topic (~/prompts)"),
    "output_dir": ("", "where to write overlay.mp4, PNGs and the score; empty = only prompt"),
    "video_fps": (10.0, "frame rate written into overlay.mp4"),
    "auto_finish": (True, "with output_dir: write the score and summary once the last frame is through"),
    "score_depth": (
        False,
        "also score <tracker>/objects' 3-D positions against the scene's truth (tracker with"
        " use_depth, video_source with publish_depth)",
    ),
    "fov_deg": (60.0, "field of view of the video_source's pinhole camera_info (as the video_source's)"),
    "auto": (
        False,
        "call <tracker>/segment_everything once on the first frame instead of the scripted prompts;"
        " the score matches what was found to the scene's objects by IoU",
    ),
}


class DemoPlanner(Node):
    """Sends scripted prompts to the tracker from ground truth; records and scores with ``output_dir``."""

    def __init__(self, *, node_name: str = "demo_planner", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        for name, (default, text) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=text, read_only=True))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        if p["prompt_via"] not in ("service", "topic"):
            raise ValueError(f"prompt_via must be service or topic, got '{p['prompt_via']}'")
        config = scene_config(width=p["width"], height=p["height"], num_frames=p["num_frames"],
                              scenario=p["scenario"], num_objects=p["num_objects"])  # fmt: skip
        self.scene = SyntheticScene(p["seed"], config)
        self.num_frames = config.num_frames
        late = p["late_frame"] if p["late_frame"] >= 0 else self.num_frames // 3
        self.auto = bool(p["auto"])
        self.schedule = [] if self.auto else demo_schedule(p["num_objects"], late)
        self.auto_frame: int | None = None  # the frame segment_everything ran on (auto)
        self.auto_reply: Any = None
        self.min_area_px = p["min_area_px"]
        self.via_service = p["prompt_via"] == "service"
        self.names = {k + 1: obj.shape for k, obj in enumerate(self.scene.objects)}
        self._lock = threading.Condition()
        self._stamps: dict[int, int] = {}  # image stamp (ns) -> frame index
        self._image_times: dict[int, float] = {}  # frame index -> monotonic receipt
        self._images_seen = 0
        self.labels: dict[int, np.ndarray] = {}
        self.latencies_ms: list[float] = []
        self._label_times: list[float] = []
        self.prompted_at: dict[int, int] = {}  # object id -> frame index, once accepted
        self._sent: set[int] = set()
        self._pending: dict[int, int] = {}  # frame index -> prompts not yet answered
        self._overlays: set[int] = set()
        self.failures: list[str] = []
        self.report: DemoReport | None = None
        self._last_image_time = 0.0
        self._early: dict[int, list[tuple[Any, Image]]] = {}  # outputs that beat their image here
        self.score_depth = bool(p["score_depth"])
        k = pinhole_calibration(self.scene.width, self.scene.height, p["fov_deg"]).k
        self.intrinsics = (k[0], k[4], k[2], k[5])
        self.positions: dict[int, dict[int, tuple[float, float, float] | None]] = {}  # frame -> id -> xyz

        tracker = p["tracker"].rstrip("/")
        reliable = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        self.image_sub = self.create_subscription(Image, "image", self._on_image, reliable)
        self.label_sub = self.create_subscription(Image, f"{tracker}/label_image", self._on_label, reliable)
        self.client = self.create_client(AddPrompt, f"{tracker}/add_prompt")
        self.segment_client = self.create_client(SegmentEverything, f"{tracker}/segment_everything")
        self.prompt_pub = self.create_publisher(Prompt, f"{tracker}/prompts", 10)
        self.objects_sub = None
        if self.score_depth:
            self.objects_sub = self.create_subscription(
                TrackedObjectArray, f"{tracker}/objects", self._on_objects, reliable
            )
        self.recorder: OverlayRecorder | None = None
        self.overlay_sub = None
        if p["output_dir"]:
            self.recorder = OverlayRecorder(
                p["output_dir"], fps=p["video_fps"], png_indices=snapshot_indices(self.num_frames)
            )
            self.overlay_sub = self.create_subscription(Image, f"{tracker}/overlay", self._on_overlay, reliable)
            if p["auto_finish"]:
                self._finish_timer = self.create_timer(0.5, self._check_finished)

    # --- inputs -------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        with self._lock:
            index = self._images_seen
            self._images_seen += 1
            stamp = stamp_to_ns(msg.header.stamp)
            if index < self.num_frames:  # the first pass only; a looping source repeats the scene
                self._stamps[stamp] = index
                self._image_times[index] = time.monotonic()
            self._last_image_time = time.monotonic()
            early = self._early.pop(stamp, [])
        for handler, output in early:  # topics are not ordered among each other
            handler(output)

    def _index_of(self, msg: Image, handler: Any) -> int | None:
        """The frame index of an output's stamp; None (and the output kept for later) before its image."""
        stamp = stamp_to_ns(msg.header.stamp)
        index = self._stamps.get(stamp)
        if index is None and self._images_seen < self.num_frames:
            self._early.setdefault(stamp, []).append((handler, msg))
        return index

    def _on_label(self, msg: Image) -> None:
        now = time.monotonic()
        with self._lock:
            index = self._index_of(msg, self._on_label)
            if index is None or index in self.labels:
                return
            self.labels[index] = image_to_array(msg).copy()
            self.latencies_ms.append((now - self._image_times[index]) * 1000.0)
            self._label_times.append(now)
            masks, _ = self.scene.frame(index)[1:]
            areas = masks.reshape(len(masks), -1).sum(axis=1)
            due = due_prompts(self.schedule, index, self._sent, areas, self.min_area_px)
            self._sent.update(p.object_id for p in due)
            segment = self.auto and self.auto_frame is None
            if segment:
                self.auto_frame = index
            self._pending[index] = len(due) + int(segment)
            self._lock.notify_all()
        for planned in due:
            self._send(planned, masks[planned.object_id - 1], msg.header, index)
        if segment:
            self._segment_everything(index)

    def _on_objects(self, msg: TrackedObjectArray) -> None:
        with self._lock:
            index = self._index_of(msg, self._on_objects)
            if index is None or index in self.positions:
                return
            self.positions[index] = {
                int(o.id): (o.position.x, o.position.y, o.position.z) if o.has_position else None for o in msg.objects
            }
            self._lock.notify_all()

    def _true_centres(self, index: int) -> dict[int, tuple[np.ndarray, int]]:
        return {s.obj_id: (s.centroid, s.pixels) for s in self.scene.objects_3d(index, self.intrinsics)}

    def _on_overlay(self, msg: Image) -> None:
        with self._lock:
            index = self._index_of(msg, self._on_overlay)
            if index is None or index in self._overlays:
                return
            self._overlays.add(index)
            self.recorder.add(index, image_to_rgb(msg))
            self._lock.notify_all()

    # --- prompts ------------------------------------------------------------------------
    def _send(self, planned: PlannedPrompt, mask: np.ndarray, header: Any, index: int) -> None:
        msg = prompt_message(planned, mask, header, self.names.get(planned.object_id, ""))
        where = f"object {planned.object_id} ({planned.kind}) on frame {index}"
        if not self.via_service:
            self.prompt_pub.publish(msg)
            self.get_logger().info(f"prompted {where} on the prompts topic")
            self._answered(planned.object_id, index, None)
            return
        future = self.client.call_async(AddPrompt.Request(prompt=msg))

        def done(f: Any) -> None:
            error = None
            if f.exception() is not None:
                error = f"{where}: {f.exception()}"
            elif not f.result().success:
                error = f"{where}: {f.result().message}"
            else:
                self.get_logger().info(f"prompted {where}: {f.result().message}")
            self._answered(planned.object_id, index, error)

        future.add_done_callback(done)

    def _segment_everything(self, index: int) -> None:
        future = self.segment_client.call_async(SegmentEverything.Request())

        def done(f: Any) -> None:
            with self._lock:
                if f.exception() is not None:
                    self.failures.append(f"segment_everything on frame {index}: {f.exception()}")
                elif not f.result().success:
                    self.failures.append(f"segment_everything on frame {index}: {f.result().message}")
                else:
                    self.auto_reply = f.result()
                    self.get_logger().info(f"segment_everything on frame {index}: {f.result().message}")
                self._pending[index] -= 1
                self._lock.notify_all()

        future.add_done_callback(done)

    def _auto_score(self, labels: dict[int, np.ndarray], failures: list[str]) -> tuple[DemoScore, dict, list[str]]:
        """Match the tracks segment_everything started to the scene (on the next frame) and score them."""
        seeded, later = (
            self.auto_frame,
            [t for t in sorted(labels) if self.auto_frame is not None and t > self.auto_frame],
        )
        if seeded is None or not later:
            failures.append("segment_everything was not called, or no frame followed it")
            return score_tracking({}, lambda t: self.scene.frame(t)[1], {}), {}, []
        first = later[0]
        found = match_objects(labels[first], self.scene.frame(first)[1])
        mapping = {track: scene_id for scene_id, (track, _) in found.items()}
        relabelled = {t: relabel(image, mapping) for t, image in labels.items()}
        prompted = {scene_id: seeded for scene_id in found}
        score = score_tracking(relabelled, lambda t: self.scene.frame(t)[1], prompted)
        reply = self.auto_reply
        added = [int(i) for i in reply.object_ids] if reply is not None else []
        pairs = ", ".join(f"{k} -> track {t} (IoU {iou:.2f})" for k, (t, iou) in found.items()) or "none"
        notes = [
            f"segment_everything on frame {seeded}: {reply.message if reply is not None else 'no answer'}",
            f"found {len(found)} of {len(self.scene.obj_ids)} scene objects (IoU >= 0.5 on frame {first}): {pairs};"
            f" other tracks: {sorted(set(added) - set(mapping))}",
        ]
        missing = [int(k) for k in self.scene.obj_ids if int(k) not in found]
        if missing:
            failures.append(f"scene objects not found by segment_everything: {missing}")
        return score, prompted, notes

    def _answered(self, object_id: int, index: int, error: str | None) -> None:
        with self._lock:
            if error is None:
                self.prompted_at[object_id] = index
            else:
                self.failures.append(f"prompt rejected: {error}")
                self.get_logger().error(f"prompt rejected: {error}")
            self._pending[index] -= 1
            self._lock.notify_all()

    # --- progress and the end -----------------------------------------------------------
    def frame_done(self, index: int) -> bool:
        """Frame ``index`` is through: label image in, its prompts answered, its overlay recorded."""
        return (
            index in self.labels
            and self._pending.get(index, 1) == 0
            and (self.recorder is None or index in self._overlays)
            and (not self.score_depth or index in self.positions)
        )

    def wait_frame(self, index: int, timeout: float) -> bool:
        """Block (not on the executor) until ``frame_done(index)`` or the timeout; True when done."""
        with self._lock:
            return self._lock.wait_for(lambda: self.frame_done(index), timeout=timeout)

    def _check_finished(self) -> None:
        if self.report is not None:
            return
        last = self.num_frames - 1
        quiet = self._images_seen > last and time.monotonic() - self._last_image_time > 5.0
        if self.frame_done(last) or quiet:
            for line in self.finish().lines():
                self.get_logger().info(line)

    def finish(self, frames_published: int | None = None) -> DemoReport:
        """Close the video and score every label image received (idempotent)."""
        with self._lock:
            if self.report is not None:
                return self.report
            if self.recorder is not None:
                self.recorder.close()
            failures = list(self.failures)
            prompts, notes = dict(self.prompted_at), []
            if self.auto:
                score, prompts, notes = self._auto_score(dict(self.labels), failures)
            else:
                score = score_tracking(dict(self.labels), lambda t: self.scene.frame(t)[1], dict(self.prompted_at))
            span = (self._label_times[-1] - self._image_times[min(self.labels)]) if self.labels else 0.0
            fps = (len(self.labels) - 1) / span if len(self.labels) > 1 and span > 0 else math.nan
            missing = sorted(p.object_id for p in self.schedule if p.object_id not in self.prompted_at)
            if missing:
                failures.append(f"objects never prompted: {missing}")
            positions = None
            if self.score_depth:
                positions = score_positions(
                    dict(self.positions), self._true_centres, dict(self.prompted_at),
                    self.scene.config.min_visible_pixels,
                )  # fmt: skip
                if positions.visible and not positions.scored:
                    failures.append("no 3-D position was reported (use_depth, depth and camera_info?)")
            self.report = DemoReport(
                score=score,
                fps=fps,
                latency_p50_ms=percentile(self.latencies_ms, 50),
                frames_tracked=len(self.labels),
                frames_published=frames_published if frames_published is not None else self._images_seen,
                prompts=prompts,
                failures=failures,
                notes=notes,
                video_path=self.recorder.video_path if self.recorder else "",
                video_frames=self.recorder.frames if self.recorder else 0,
                png_paths=[os.path.basename(p) for p in self.recorder.png_paths] if self.recorder else [],
                positions=positions,
            )
            return self.report


def main(args: list[str] | None = None) -> None:
    """Entry point: ``ros2 run sam2_ros demo_planner`` / ``python -m sam2_ros.demo_planner``."""
    run_node(args, "demo_planner", DemoPlanner, threads=2)


if __name__ == "__main__":
    main()
