# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Prompt validation and 2-D clicks: messages in, a checked PromptSpec for the tracker out (3-D clicks: click_geometry).

Pure functions on message-like objects (no rclpy), so every rejection rule is tested
without a running graph. Every rejection raises PromptError with a message meant for the
user who sent the prompt.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.image_conversion import ImageConversionError, mask_from_image

# Label images are mono16 with 0 as background, so object ids must fit in 1..65535.
MAX_OBJECT_ID = 65535
CLICK_MODES = ("new_object", "refine")


class PromptError(ValueError):
    """A prompt or click that cannot be applied; the message says why."""


@dataclass(frozen=True)
class FrameInfo:
    """What prompts are checked against: the latest image's size, stamp and frame."""

    width: int
    height: int
    stamp_ns: int
    frame_id: str = ""


@dataclass(frozen=True, eq=False)
class PromptSpec:
    """A validated prompt for one object, in the tracker's terms.

    points: N x 2 float32 pixel (x, y); point_labels: N int32 (1 foreground, 0 background);
    box: 4 float32 (x_min, y_min, x_max, y_max) clipped to the image; mask: H x W bool.
    An empty label on a known object keeps its label.
    """

    object_id: int
    label: str = ""
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    box: np.ndarray | None = None
    mask: np.ndarray | None = None
    source: str = "prompt"

    def tracker_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Tracker.add_prompt`` besides the object id."""
        return {"points": self.points, "labels": self.point_labels, "box": self.box, "mask": self.mask}


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (``sec``, ``nanosec``) to integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def check_prompt_age(stamp_ns: int, latest_stamp_ns: int, max_age_s: float) -> None:
    """Reject a prompt stamped more than ``max_age_s`` before the latest image (image time).

    A zero stamp means "the latest image" and always passes; ``max_age_s <= 0`` disables the check.
    """
    if stamp_ns == 0 or max_age_s <= 0:
        return
    age_s = (latest_stamp_ns - stamp_ns) * 1e-9
    if age_s > max_age_s:
        raise PromptError(
            f"prompt is stamped {stamp_ns * 1e-9:.3f} s, {age_s:.3f} s before the latest image"
            f" ({latest_stamp_ns * 1e-9:.3f} s); max_prompt_age_s is {max_age_s:g}"
        )


def _check_object_id(object_id: int, known_ids: Collection[int], max_objects: int) -> None:
    if not 0 < object_id <= MAX_OBJECT_ID:
        raise PromptError(f"object_id must be in 1..{MAX_OBJECT_ID} (label images are mono16), got {object_id}")
    if object_id not in known_ids and len(known_ids) >= max_objects:
        raise PromptError(
            f"cannot add object {object_id}: already tracking {len(known_ids)} objects (max_objects is {max_objects})"
        )


def check_inside(x: float, y: float, frame: FrameInfo, what: str) -> None:
    if not (0.0 <= x <= frame.width and 0.0 <= y <= frame.height):
        raise PromptError(f"{what} ({x:g}, {y:g}) lies outside the {frame.width} x {frame.height} image")


def _points(msg: Any, frame: FrameInfo) -> tuple[np.ndarray | None, np.ndarray | None]:
    points = list(msg.points)
    labels = [int(v) for v in msg.point_labels]
    if len(points) != len(labels):
        raise PromptError(f"{len(points)} points but {len(labels)} point_labels; give one label per point")
    if not points:
        return None, None
    xy = np.array([[p.x, p.y] for p in points], dtype=np.float64)
    if not np.isfinite(xy).all():
        raise PromptError("point coordinates contain NaN or infinite values")
    bad = [v for v in labels if v not in (0, 1)]
    if bad:
        raise PromptError(f"point_labels must be 1 (foreground) or 0 (background), got {bad[0]}")
    for i, (x, y) in enumerate(xy):
        check_inside(float(x), float(y), frame, f"point {i}")
    return xy.astype(np.float32), np.array(labels, dtype=np.int32)


def _box(msg: Any, frame: FrameInfo) -> np.ndarray | None:
    values = [float(v) for v in msg.box]
    if not values:
        return None
    if len(values) != 4:
        raise PromptError(f"box must be empty or [x_min, y_min, x_max, y_max], got {len(values)} values")
    if not all(math.isfinite(v) for v in values):
        raise PromptError("box contains NaN or infinite values")
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise PromptError(
            f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] is inverted or empty (needs x_max > x_min, y_max > y_min)"
        )
    if x1 <= 0 or y1 <= 0 or x0 >= frame.width or y0 >= frame.height:
        raise PromptError(f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the {frame.width} x {frame.height} image")
    clipped = [max(x0, 0.0), max(y0, 0.0), min(x1, float(frame.width)), min(y1, float(frame.height))]
    return np.array(clipped, dtype=np.float32)


def _mask_is_empty(mask_msg: Any) -> bool:
    return int(mask_msg.width) == 0 and int(mask_msg.height) == 0 and len(mask_msg.data) == 0


def _mask(msg: Any, frame: FrameInfo, is_new: bool) -> np.ndarray | None:
    if _mask_is_empty(msg.mask):
        return None
    try:
        mask = mask_from_image(msg.mask, width=frame.width, height=frame.height)
    except ImageConversionError as error:
        raise PromptError(f"bad mask: {error}") from None
    if is_new and not mask.any():
        raise PromptError("mask has no non-zero pixel, so it cannot start a new object")
    return np.ascontiguousarray(mask)


def validate_prompt(
    msg: Any,
    *,
    frame: FrameInfo | None,
    latest_stamp_ns: int | None = None,
    known_ids: Collection[int] = (),
    max_objects: int = 16,
    max_prompt_age_s: float = 0.0,
    source: str = "prompt",
) -> PromptSpec:
    """Check a sam2_ros/Prompt against the latest image and the tracked objects.

    ``frame`` is the image the prompt will be applied to (None before any image);
    ``latest_stamp_ns`` the newest image stamp seen (defaults to the frame's).
    Raises PromptError for any content the tracker must not see.
    """
    object_id = int(msg.object_id)
    _check_object_id(object_id, known_ids, max_objects)
    if frame is None:
        raise PromptError("no image received yet; prompts apply to the latest image")
    latest = frame.stamp_ns if latest_stamp_ns is None else max(latest_stamp_ns, frame.stamp_ns)
    check_prompt_age(stamp_to_ns(msg.header.stamp), latest, max_prompt_age_s)
    is_new = object_id not in known_ids
    points, labels = _points(msg, frame)
    box = _box(msg, frame)
    mask = _mask(msg, frame, is_new)
    if points is None and box is None and mask is None:
        raise PromptError("prompt has no points, box or mask")
    if mask is not None and (points is not None or box is not None):
        raise PromptError("a prompt takes points and/or a box, or a mask, not both")
    return PromptSpec(object_id, str(msg.label), points, labels, box, mask, source)


def prompt_from_click(
    x: float,
    y: float,
    *,
    object_id: int,
    frame: FrameInfo | None,
    known_ids: Collection[int] = (),
    max_objects: int = 16,
    label: str = "",
    source: str = "click",
) -> PromptSpec:
    """A one-point foreground prompt from a click at pixel (x, y) on the latest image."""
    _check_object_id(object_id, known_ids, max_objects)
    if frame is None:
        raise PromptError("no image received yet; clicks refer to the latest image")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise PromptError(f"click ({x}, {y}) is not a finite pixel position")
    check_inside(x, y, frame, "click")
    return PromptSpec(
        object_id,
        label,
        points=np.array([[x, y]], dtype=np.float32),
        point_labels=np.array([1], dtype=np.int32),
        source=source,
    )


def click_target(click_mode: str, known_ids: Sequence[int], last_added: int | None, next_id: int) -> int:
    """The object a click applies to: a new id (``new_object``) or the most recently added one (``refine``).

    In ``refine`` mode with no object yet, the click starts a new one.
    """
    if click_mode not in CLICK_MODES:
        raise PromptError(f"click_mode must be one of {CLICK_MODES}, got '{click_mode}'")
    if click_mode == "refine" and known_ids:
        return last_added if last_added in known_ids else known_ids[-1]
    return next_id
