# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for sam2_core.Tracker that honours its contract, with masks drawn from the prompts.

Masks do not move: a point prompt paints (label 1) or erases (label 0) a disc, a box fills
its rectangle, a mask prompt is the mask. It records which thread called it and whether two
calls ever overlapped, so node tests can check the threading rules.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

POINT_RADIUS_PX = 5
PRESENT_LOGIT, ABSENT_LOGIT = 8.0, -8.0


@dataclass
class FakeResult:
    """Same fields as sam2_core.TrackResult."""

    frame_index: int
    obj_ids: list[int]
    mask_logits: torch.Tensor  # N x H x W float32
    masks: torch.Tensor  # N x H x W bool
    object_scores: torch.Tensor  # N logits


class FakeTracker:
    """Tracker(model, max_objects=...) look-alike: track / add_prompt / remove_object / reset."""

    def __init__(self, *, max_objects: int = 16, delay_s: float = 0.0) -> None:
        self.max_objects = max_objects
        self.delay_s = delay_s
        self.frame_index = -1
        self.size: tuple[int, int] | None = None  # (H, W) of the latest frame; None before any / after reset
        self.objects: dict[int, np.ndarray] = {}
        self.calls: list[tuple[str, str]] = []  # (method, thread name)
        self.overlapped = False
        self._inside = 0
        self._lock = threading.Lock()

    def _enter(self, name: str) -> None:
        with self._lock:
            self._inside += 1
            self.overlapped |= self._inside > 1
            self.calls.append((name, threading.current_thread().name))

    def _leave(self) -> None:
        with self._lock:
            self._inside -= 1

    def _result(self) -> FakeResult:
        h, w = self.size
        ids = list(self.objects)
        masks = (
            torch.from_numpy(np.stack([self.objects[i] for i in ids]))
            if ids
            else torch.zeros(0, h, w, dtype=torch.bool)
        )
        logits = torch.where(masks, PRESENT_LOGIT, ABSENT_LOGIT).float()
        scores = torch.tensor([PRESENT_LOGIT if self.objects[i].any() else ABSENT_LOGIT for i in ids])
        return FakeResult(self.frame_index, ids, logits, masks, scores)

    def track(self, frame: Any) -> FakeResult:
        self._enter("track")
        try:
            array = frame.numpy() if isinstance(frame, torch.Tensor) else frame
            if not isinstance(array, np.ndarray) or array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
                raise ValueError(f"frame must be H x W x 3 uint8, got {getattr(array, 'shape', type(array))}")
            if not array.flags.c_contiguous:
                raise ValueError("the fake wants a dense frame, as torch.from_numpy would")
            size = array.shape[:2]
            if self.size is not None and size != self.size:
                self.objects = {i: np.zeros(size, dtype=bool) for i in self.objects}
            self.size = size
            self.frame_index += 1
            if self.delay_s:
                time.sleep(self.delay_s)
            return self._result()
        finally:
            self._leave()

    def add_prompt(self, obj_id: int, points: Any = None, labels: Any = None, box: Any = None, mask: Any = None):
        self._enter("add_prompt")
        try:
            if self.size is None:
                raise ValueError("add_prompt before any frame")
            if obj_id not in self.objects and len(self.objects) >= self.max_objects:
                raise ValueError(f"cannot add object {obj_id}: max_objects is {self.max_objects}")
            if (points is None) != (labels is None) or (points is not None and len(points) != len(labels)):
                raise ValueError("points and labels must come together, one label per point")
            if mask is not None and (points is not None or box is not None):
                raise ValueError("give either points/box or a mask in one prompt, not both")
            h, w = self.size
            drawn = self.objects.get(obj_id, np.zeros((h, w), dtype=bool)).copy()
            if mask is not None:
                if mask.shape != (h, w):
                    raise ValueError(f"mask is {mask.shape}, frame is {(h, w)}")
                drawn = np.asarray(mask, dtype=bool).copy()
            if box is not None:
                x0, y0, x1, y1 = (int(round(float(v))) for v in box)
                drawn[max(y0, 0) : y1, max(x0, 0) : x1] = True
            if points is not None:
                yy, xx = np.mgrid[0:h, 0:w]
                for (x, y), label in zip(np.asarray(points), np.asarray(labels)):
                    disc = (xx - x) ** 2 + (yy - y) ** 2 <= POINT_RADIUS_PX**2
                    drawn[disc] = bool(label)
            self.objects[obj_id] = drawn
            return self._result()
        finally:
            self._leave()

    def remove_object(self, obj_id: int) -> None:
        self._enter("remove_object")
        try:
            if obj_id not in self.objects:
                raise KeyError(f"unknown object id {obj_id}")
            del self.objects[obj_id]
        finally:
            self._leave()

    def reset(self) -> None:
        self._enter("reset")
        try:
            self.objects.clear()
            self.size = None  # the strictest reading of reset: no frame either
            self.frame_index = -1
        finally:
            self._leave()


def fake_factory(created: list[FakeTracker] | None = None, **fake_kwargs: Any) -> Callable[[Any], FakeTracker]:
    """A tracker_factory for TrackerNode that builds FakeTrackers (appended to ``created``).

    Like the real factory it checks the checkpoint parameter: empty is fine, a missing file
    raises FileNotFoundError, a file not starting with b"fake" raises ValueError.
    """

    def factory(params: Any) -> FakeTracker:
        if params.checkpoint:
            if not os.path.isfile(params.checkpoint):
                raise FileNotFoundError(f"checkpoint '{params.checkpoint}' does not exist or is not a file")
            with open(params.checkpoint, "rb") as handle:
                if not handle.read(4) == b"fake":
                    raise ValueError(f"cannot read checkpoint {params.checkpoint}: not a checkpoint")
        tracker = FakeTracker(max_objects=params.max_objects, **fake_kwargs)
        if created is not None:
            created.append(tracker)
        return tracker

    return factory
