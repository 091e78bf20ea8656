# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the demo measures and writes: J&F of label images against ground truth, the overlay video, a summary.

No rclpy: label images and overlay frames come in as numpy arrays.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from sam2_core.metrics import evaluate_sequence, summarize

SUMMARY_PATTERN = re.compile(r"^FPS=(\S+) latency_p50_ms=(\S+) J&F=(\S+)$")


@dataclass
class DemoScore:
    """Region (J), boundary (F) and J&F pooled over objects, and J&F per object id."""

    j: float
    f: float
    jf: float
    per_object: dict[int, float] = field(default_factory=dict)
    frames_scored: dict[int, int] = field(default_factory=dict)  # object id -> frames after its prompt
    unscored: list[int] = field(default_factory=list)  # ids prompted on the last frame seen


def score_tracking(
    labels: Mapping[int, np.ndarray],
    ground_truth: Callable[[int], np.ndarray],
    prompted_at: Mapping[int, int],
) -> DemoScore:
    """J&F of label images against ground truth, per object from the frame it was prompted on.

    labels: frame index -> ``H x W`` label image (pixel = object id, 0 = background), the frames the
    tracker published. ground_truth(index): ``K x H x W`` bool masks, object id k in row k - 1.
    prompted_at: object id -> frame index of its first prompt. Identity is by object id: pixels
    labelled with another id count as misses. Each object's series starts on its prompt frame and,
    as in DAVIS, that frame is not scored (it carries the prompt; its label image was published
    before the prompt arrived). Frames without a label image (dropped) are left out.
    """
    frames = sorted(labels)
    cache: dict[int, np.ndarray] = {}

    def gt(index: int) -> np.ndarray:
        if index not in cache:
            cache[index] = np.asarray(ground_truth(index), dtype=bool)
        return cache[index]

    results, per_object, counted, unscored = [], {}, {}, []
    for object_id, first in sorted(prompted_at.items()):
        series = [t for t in frames if t >= first]
        if len(series) < 2 or series[0] != first:
            unscored.append(object_id)
            continue
        pred = np.stack([labels[t] == object_id for t in series])[:, None]
        truth = np.stack([gt(t)[object_id - 1] for t in series])[:, None]
        result = evaluate_sequence(pred, truth, skip_first=True)
        results.append(result)
        per_object[object_id] = float(result["J&F"])
        counted[object_id] = len(series) - 1
    if not results:
        return DemoScore(math.nan, math.nan, math.nan, per_object, counted, unscored)
    pooled = summarize(results)
    return DemoScore(pooled["J"], pooled["F"], pooled["J&F"], per_object, counted, unscored)


@dataclass
class PositionScore:
    """3-D positions against the truth: mean error (metres, and relative to the true depth) and coverage.

    Pooled over every object-frame after the object's prompt frame where the object is visible in
    the ground truth and the tracker gave it a position (``scored``); ``visible`` counts those where
    it is visible, with or without a position.
    """

    mean_error_m: float
    mean_relative_error: float  # error / true depth
    mean_lateral_error_m: float
    mean_depth_error_m: float
    scored: int
    visible: int

    def line(self) -> str:
        if not self.scored:
            return f"3-D: no position reported on {self.visible} visible object-frames"
        return (
            f"3-D: mean position error {self.mean_error_m * 1000:.1f} mm = {self.mean_relative_error * 100:.2f} % of"
            f" depth (lateral {self.mean_lateral_error_m * 1000:.1f} mm, depth {self.mean_depth_error_m * 1000:.1f}"
            f" mm) over {self.scored} object-frames; has_position on {self.scored} of {self.visible} visible"
        )


def score_positions(
    positions: Mapping[int, Mapping[int, tuple[float, float, float] | None]],
    truth: Callable[[int], Mapping[int, tuple[np.ndarray, int]]],
    prompted_at: Mapping[int, int],
    min_visible_pixels: int = 16,
) -> PositionScore:
    """Score 3-D positions against the truth.

    positions: frame index -> object id -> (x, y, z) metres, or None where the tracker gave none.
    truth(index): object id -> (true centre (3,), visible pixels). Frames after each object's
    prompt frame only (as score_tracking); objects with fewer than ``min_visible_pixels`` are hidden.
    """
    errors, lateral, depth, relative, visible = [], [], [], [], 0
    for index in sorted(positions):
        reported = positions[index]
        centres = None
        for object_id, first in prompted_at.items():
            if index <= first:
                continue
            centres = truth(index) if centres is None else centres
            centre, pixels = centres[object_id]
            if pixels < min_visible_pixels:
                continue
            visible += 1
            p = reported.get(object_id)
            if p is None:
                continue
            e = np.asarray(p, dtype=np.float64) - centre
            errors.append(float(np.linalg.norm(e)))
            lateral.append(float(np.hypot(e[0], e[1])))
            depth.append(abs(float(e[2])))
            relative.append(errors[-1] / float(centre[2]))
    if not errors:
        return PositionScore(math.nan, math.nan, math.nan, math.nan, 0, visible)
    return PositionScore(
        float(np.mean(errors)), float(np.mean(relative)), float(np.mean(lateral)), float(np.mean(depth)),
        len(errors), visible,
    )  # fmt: skip


def match_objects(labels: np.ndarray, truth: np.ndarray, min_iou: float = 0.5) -> dict[int, tuple[int, float]]:
    """Scene objects found among the tracks: scene id -> (track id, IoU), one to one, IoU >= ``min_iou``.

    labels: ``H x W`` label image (pixel = track id); truth: ``K x H x W`` bool masks of scene objects
    1..K. Pairs are taken greedily, best IoU first (at IoU > 0.5 a match is unique anyway).
    """
    pairs = []
    for track_id in (int(i) for i in np.unique(labels) if i != 0):
        region = labels == track_id
        for k, mask in enumerate(np.asarray(truth, dtype=bool)):
            union = np.count_nonzero(region | mask)
            iou = np.count_nonzero(region & mask) / union if union else 0.0
            if iou >= min_iou:
                pairs.append((iou, k + 1, track_id))
    found: dict[int, tuple[int, float]] = {}
    used: set[int] = set()
    for iou, scene_id, track_id in sorted(pairs, reverse=True):
        if scene_id not in found and track_id not in used:
            found[scene_id] = (track_id, float(iou))
            used.add(track_id)
    return dict(sorted(found.items()))


def relabel(labels: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """A label image with track ids replaced by scene ids (``mapping``: track id -> scene id; others -> 0)."""
    table = np.zeros(int(max(labels.max(initial=0), max(mapping, default=0))) + 1, dtype=np.uint16)
    for track_id, scene_id in mapping.items():
        table[track_id] = scene_id
    return table[labels]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``; NaN when there are none."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else math.nan


def summary_line(fps: float, latency_p50_ms: float, jf: float) -> str:
    """The demo's last line: ``FPS=<x> latency_p50_ms=<y> J&F=<z>``."""
    return f"FPS={fps:.2f} latency_p50_ms={latency_p50_ms:.1f} J&F={jf:.3f}"


def parse_summary_line(line: str) -> dict[str, float]:
    """The three numbers of a summary line; ValueError when the line does not have that form."""
    match = SUMMARY_PATTERN.match(line.strip())
    if not match:
        raise ValueError(f"not a summary line: {line!r}")
    return dict(zip(("FPS", "latency_p50_ms", "J&F"), (float(v) for v in match.groups())))


def snapshot_indices(num_frames: int, count: int = 4, first: int = 1) -> list[int]:
    """Frame indices to save as PNG: ``count`` spread evenly over ``first .. num_frames - 1``."""
    if num_frames <= first:
        return list(range(num_frames))
    return sorted({int(round(v)) for v in np.linspace(first, num_frames - 1, count)})


class OverlayRecorder:
    """Writes overlay frames to ``<dir>/overlay.mp4`` (mp4v, which OpenCV reads back) and a few PNGs."""

    def __init__(self, output_dir: str | os.PathLike, *, fps: float, png_indices: Sequence[int] = ()) -> None:
        self.output_dir = os.fspath(output_dir)
        os.makedirs(self.output_dir, exist_ok=True)
        self.video_path = os.path.join(self.output_dir, "overlay.mp4")
        self.fps = fps
        self.png_indices = set(png_indices)
        self.png_paths: list[str] = []
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def add(self, index: int, rgb: np.ndarray) -> None:
        """Append frame ``index`` (``H x W x 3`` uint8 RGB); other sizes are resized to the first frame's."""
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        if self._writer is None:
            self._size = (bgr.shape[1], bgr.shape[0])
            self._writer = cv2.VideoWriter(self.video_path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
            if not self._writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write {self.video_path} with the mp4v codec")
        if (bgr.shape[1], bgr.shape[0]) != self._size:
            bgr = cv2.resize(bgr, self._size)
        self._writer.write(bgr)
        self.frames += 1
        if index in self.png_indices:
            path = os.path.join(self.output_dir, f"frame_{index:04d}.png")
            cv2.imwrite(path, bgr)
            self.png_paths.append(path)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
