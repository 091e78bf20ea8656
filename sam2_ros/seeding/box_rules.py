# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Objects from detector boxes: validate boxes, match them to tracked objects by IoU, add the new ones.

Shared by text prompts (an open-vocabulary detector's boxes) and the detections bridge (any ROS
detector's boxes). Runs on the worker thread with the node's TrackingSession; no rclpy. Tracked
objects' boxes come from the label image (``sam2_ros.outputs``), the pixels every output
publishes, less stray specks, so "already tracked" means what a planner reading ``~/objects``
would conclude.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from sam2_ros.outputs import frame_labels
from sam2_ros.prompts import PromptSpec

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in pixels


class BoxPromptError(ValueError):
    """Boxes that cannot be applied now (the message says why); nothing tracked has changed."""


@dataclass(frozen=True)
class BoxCandidate:
    """A box that may start (or refresh) a track: its label is the phrase or the detector's class."""

    box: Sequence[float]
    label: str
    score: float = 1.0


@dataclass
class BoxOutcome:
    """What applying candidates did. ``result`` is the tracker's result after the last prompt (None if none ran)."""

    added: list[int] = field(default_factory=list)
    refreshed: list[int] = field(default_factory=list)
    already_tracked: list[int] = field(default_factory=list)  # objects that matched a candidate, left alone
    rejected: list[str] = field(default_factory=list)  # one message per candidate not used
    result: Any = None

    def summary(self, names: Mapping[int, str]) -> str:
        """One line for a log or a service reply."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(f"{i} ('{names.get(i, '')}')" for i in self.added))
        if self.refreshed:
            parts.append("refreshed " + ", ".join(str(i) for i in self.refreshed))
        if self.already_tracked:
            parts.append("already tracked: " + ", ".join(str(i) for i in self.already_tracked))
        if self.rejected:
            parts.append("not used: " + "; ".join(self.rejected))
        return "; ".join(parts) if parts else "nothing detected"


def check_box(box: Sequence[float], width: int, height: int) -> Box:
    """``box`` clipped to a width x height image; BoxPromptError when it is not finite, empty or outside."""
    values = [float(v) for v in box]
    if len(values) != 4:
        raise BoxPromptError(f"box must have 4 values [x_min, y_min, x_max, y_max], got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise BoxPromptError(f"box {values} contains NaN or infinite values")
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise BoxPromptError(f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] is inverted or empty")
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise BoxPromptError(f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the {width} x {height} image")
    return max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x_min, y_min, x_max, y_max] boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


SPECK_FRACTION = 0.05  # parts of an object smaller than this share of its largest part are specks


def label_boxes(labels: np.ndarray, obj_ids: Sequence[int], speck_fraction: float = SPECK_FRACTION) -> dict[int, Box]:
    """Box of each id that owns pixels in an H x W label image, as ``outputs.object_geometry``'s bbox
    (x_max, y_max one past the last pixel) but without specks: connected parts smaller than
    ``speck_fraction`` of the object's largest part are left out, so a few stray pixels across the
    image (which trackers do leave) do not blow a box up and hide the object from matching.
    Ids without pixels are left out.
    """
    boxes: dict[int, Box] = {}
    for object_id in obj_ids:
        region = (labels == object_id).view(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        if count <= 1:
            continue
        parts = stats[1:]
        kept = parts[parts[:, cv2.CC_STAT_AREA] >= speck_fraction * parts[:, cv2.CC_STAT_AREA].max()]
        x0 = kept[:, cv2.CC_STAT_LEFT]
        y0 = kept[:, cv2.CC_STAT_TOP]
        x1 = x0 + kept[:, cv2.CC_STAT_WIDTH]
        y1 = y0 + kept[:, cv2.CC_STAT_HEIGHT]
        boxes[int(object_id)] = (float(x0.min()), float(y0.min()), float(x1.max()), float(y1.max()))
    return boxes


def result_boxes(result: Any) -> dict[int, Box]:
    """Boxes of the visible objects in a tracker result, through its label image."""
    return label_boxes(frame_labels(result)[0], [int(i) for i in result.obj_ids])


def match_candidates(
    candidates: Sequence[BoxCandidate], tracked: Mapping[int, tuple[str, Box]], match_iou: float
) -> list[tuple[BoxCandidate, int | None]]:
    """Pair candidates (best score first) with the tracked object each repeats, or None for a new one.

    A candidate repeats the object with its label (ignoring case) whose box overlaps it most, if
    that IoU is >= ``match_iou``. Candidates taken as new join the tracked set, so two boxes of one thing do not
    start two objects. Only the best candidate of each object is returned (the rest repeat it).
    """
    pool = [(i, lab.casefold(), box) for i, (lab, box) in tracked.items()]
    taken: set[int] = set()
    planned: list[tuple[BoxCandidate, int | None]] = []
    for candidate in sorted(candidates, key=lambda c: -c.score):
        best, best_iou, wanted = None, -1.0, candidate.label.casefold()
        for index, (_, label, box) in enumerate(pool):
            if label == wanted:
                iou = box_iou(candidate.box, box)
                if iou >= match_iou and iou > best_iou:
                    best, best_iou = index, iou
        if best is None:
            pool.append((None, wanted, candidate.box))
            taken.add(len(pool) - 1)
            planned.append((candidate, None))
        elif best not in taken:
            taken.add(best)
            planned.append((candidate, pool[best][0]))
    return planned


class BoxPrompter:
    """Adds objects to a TrackingSession from boxes on its latest image (worker thread only).

    ``note_frame(result)`` right after every tracked frame keeps that frame's result, so tracked boxes
    stay known after a failed frame or a removal (when the session's ``latest_result`` is cleared, e.g.
    by forgetting on the same frame).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._frame_result: Any = None

    def note_frame(self, result: Any) -> None:
        self._frame_result = result

    def tracked(self) -> dict[int, tuple[str, Box]]:
        """Label and box of each visible tracked object on the latest image."""
        session = self.session
        names = session.names
        result = session.latest_result
        if result is None:
            result = self._frame_result
            known = {int(i) for i in result.obj_ids} if result is not None else set()
            missing = [i for i in names if i not in known]
            if missing:
                raise BoxPromptError(
                    f"the boxes of objects {missing} on the latest image are not known yet (objects were added"
                    " and others removed since it was tracked); try again after the next frame"
                )
        if result is None:
            return {}
        return {i: (names[i], box) for i, box in result_boxes(result).items() if i in names}

    def apply(
        self,
        candidates: Sequence[BoxCandidate],
        *,
        match_iou: float,
        max_objects: int,
        refresh: bool = False,
        source: str = "boxes",
    ) -> BoxOutcome:
        """Validate ``candidates`` against the latest image, then add new objects (ids above the
        largest in use) with a box prompt each; matches are left alone or, with ``refresh``, re-prompted.

        BoxPromptError (nothing changed) when there is no image yet or tracked boxes are unknown. A
        candidate the tracker refuses or fails on (any exception) goes to ``rejected`` with its reason;
        the others are still applied, so the outcome always lists every object added.
        """
        session = self.session
        frame = session.frame
        if frame is None or session.latest_rgb is None:
            raise BoxPromptError("no image received yet; boxes apply to the latest image")
        outcome = BoxOutcome()
        valid: list[BoxCandidate] = []
        for candidate in candidates:
            try:
                box = check_box(candidate.box, frame.width, frame.height)
            except BoxPromptError as error:
                outcome.rejected.append(f"'{candidate.label}': {error}")
                continue
            valid.append(BoxCandidate(box, candidate.label, float(candidate.score)))
        if not valid:
            return outcome
        for candidate, object_id in match_candidates(valid, self.tracked(), match_iou):
            if object_id is not None and not refresh:
                outcome.already_tracked.append(object_id)
                continue
            if object_id is None and len(session.names) >= max_objects:
                outcome.rejected.append(f"'{candidate.label}': already tracking {max_objects} objects (max_objects)")
                continue
            is_new = object_id is None
            try:
                target = session.next_object_id() if is_new else object_id
                label = candidate.label if is_new else ""  # a refresh keeps the object's label
                box = np.asarray(candidate.box, dtype=np.float32)
                outcome.result = session.add_prompt(PromptSpec(target, label, box=box, source=source))
            except (ValueError, KeyError) as error:
                outcome.rejected.append(f"'{candidate.label}': tracker rejected the box: {error}")
                continue
            except Exception as error:  # noqa: BLE001 - e.g. out of memory: the objects added before it are kept
                outcome.rejected.append(f"'{candidate.label}': the tracker failed: {type(error).__name__}: {error}")
                continue
            (outcome.added if is_new else outcome.refreshed).append(target)
        return outcome
