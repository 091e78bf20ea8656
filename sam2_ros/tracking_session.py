# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker plus what the node must remember around it: labels, the latest frame, click ids.

Used only from the worker thread (TrackingWorker), so it needs no locks. No rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.prompts import MAX_OBJECT_ID, FrameInfo, PromptSpec


@dataclass
class Frame:
    """A received image: its header (copied to every output), RGB pixels and receipt time.

    rgb: H x W x 3 uint8, possibly a strided view of the message's memory.
    receipt_ns: time.monotonic_ns() when the callback got it (for latency).
    depth: the depth Image paired with it (use_depth), None without one.
    """

    header: Any
    rgb: np.ndarray
    receipt_ns: int
    stamp_ns: int
    depth: Any = None


class TrackingSession:
    """Drives a ``sam2_core.Tracker`` and keeps labels and ids in step with it."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.frame: FrameInfo | None = None  # the latest tracked frame, None before any
        self.names: dict[int, str] = {}  # object id -> label, in the tracker's order
        self.last_added: int | None = None
        self._latest_rgb: np.ndarray | None = None
        self._latest_result: Any = None
        self._highest_id = 0
        self._needs_retrack = False  # the tracker was reset after the latest frame

    @property
    def object_ids(self) -> list[int]:
        return list(self.names)

    @property
    def latest_rgb(self) -> np.ndarray | None:
        """The latest tracked image (H x W x 3 uint8), None before any."""
        return self._latest_rgb

    @property
    def latest_result(self) -> Any:
        """The tracker's result for the latest image as the objects stand now (after the latest
        track or prompt), or None when it no longer describes them (before any frame, after a
        removal, a reset or a failed frame)."""
        return self._latest_result

    def next_object_id(self) -> int:
        """An id never used since the last reset (for clicks that start a new object)."""
        if self._highest_id >= MAX_OBJECT_ID:
            raise ValueError(f"object ids are exhausted (highest is {MAX_OBJECT_ID}); reset the tracker")
        return self._highest_id + 1

    def _sync(self, result: Any) -> Any:
        self.names = {int(i): self.names.get(int(i), "") for i in result.obj_ids}
        self._latest_result = result
        return result

    def track(self, frame: Frame) -> Any:
        """Track one frame (all objects); returns the tracker's TrackResult."""
        rgb = np.ascontiguousarray(frame.rgb)  # the tracker wants dense memory; views may be strided
        try:
            result = self.tracker.track(rgb)
        except BaseException:
            # (e.g. CUDA out of memory) the tracker may hold no usable frame now: the next prompt
            # tracks the latest good image again, the one its sender saw, before it is applied
            self._needs_retrack = self._latest_rgb is not None
            self._latest_result = None
            raise
        height, width = rgb.shape[:2]
        self.frame = FrameInfo(width, height, frame.stamp_ns, str(getattr(frame.header, "frame_id", "")))
        self._latest_rgb = rgb
        self._needs_retrack = False
        return self._sync(result)

    def add_prompt(self, spec: PromptSpec) -> Any:
        """Add (new id) or refine (known id) an object on the latest frame; returns the TrackResult."""
        if self.frame is None or self._latest_rgb is None:
            raise ValueError("no image received yet; prompts apply to the latest image")
        if self._needs_retrack:
            # After a reset or a failed frame the tracker holds no usable frame: give it the latest
            # good one again so the prompt applies to the image its sender saw.
            self.tracker.track(self._latest_rgb)
            self._needs_retrack = False
        is_new = spec.object_id not in self.names
        result = self.tracker.add_prompt(spec.object_id, **spec.tracker_kwargs())
        self._sync(result)
        if is_new:
            self.last_added = spec.object_id
            self._highest_id = max(self._highest_id, spec.object_id)
        if spec.label or is_new:
            self.names[spec.object_id] = spec.label
        return result

    def remove(self, object_id: int) -> None:
        """Stop tracking one object. KeyError (with the tracked ids) when it is unknown."""
        if object_id not in self.names:
            raise KeyError(f"unknown object id {object_id}; tracked ids: {self.object_ids}")
        self.tracker.remove_object(object_id)
        del self.names[object_id]
        self._latest_result = None
        if self.last_added == object_id:
            self.last_added = self.object_ids[-1] if self.names else None

    def reset(self) -> int:
        """Forget every object; the latest frame stays the reference for the next prompt. Returns how many."""
        count = len(self.names)
        self.tracker.reset()
        self.names.clear()
        self._latest_result = None
        self.last_added = None
        self._highest_id = 0
        self._needs_retrack = self._latest_rgb is not None
        return count

    def warmup(self, width: int = 640, height: int = 480) -> str:
        """Run the model on a synthetic frame (track, prompt, track) so the first real frames are fast.

        A compiled tracker (``warmup_object_counts``: its object buckets) gets objects added one by
        one and a frame tracked at each bucket, so every graph up to ``max_objects`` is compiled now.
        Only valid while no object is tracked; leaves the tracker reset. Returns what was done.
        """
        if self.names:
            raise ValueError("warm-up would forget the tracked objects")
        yy, xx = np.mgrid[0:height, 0:width]
        frame = np.stack([(xx * 255 // max(width - 1, 1)), (yy * 255 // max(height - 1, 1)),
                          np.full_like(xx, 128)], axis=-1).astype(np.uint8)  # fmt: skip
        counts = list(getattr(self.tracker, "warmup_object_counts", [1]))
        self.tracker.track(frame)
        added = 0
        for count in counts:
            while added < count:
                added += 1
                # clicks spread over the frame (golden-ratio steps), one per object
                x, y = ((added * 0.618) % 1.0) * (width - 1), ((added * 0.382) % 1.0) * (height - 1)
                point = np.array([[x, y]], dtype=np.float32)
                self.tracker.add_prompt(added, points=point, labels=np.array([1], dtype=np.int32))
            self.tracker.track(frame)
        self.tracker.reset()
        self._needs_retrack = self._latest_rgb is not None
        stats = getattr(getattr(self.tracker, "compiled", None), "stats", None)
        if stats is None:
            return f"tracked {len(counts)} frame(s) with {', '.join(map(str, counts))} object(s)"
        eager = f"; running eagerly: {', '.join(stats.eager)}" if stats.eager else ""
        return (
            f"compiled {', '.join(stats.graphs) or 'nothing new'} for {', '.join(map(str, counts))} object(s),"
            f" {stats.seconds:.1f} s in compiling calls{eager}"
        )
