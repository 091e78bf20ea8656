# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The prompts file of ``--prompts``: a YAML or JSON list of point / box / mask prompts per frame or stamp.

Each entry: ``frame`` (index among the source's images) or ``stamp`` (seconds, as the images'
header stamps; a video's and an image folder's frames are ``index / fps``), ``object_id``
(1..65535), ``label``, ``points`` ([[x, y], ...] pixels) with ``point_labels`` (1 foreground,
0 background; default all 1), ``box`` ([x0, y0, x1, y1] pixels), ``mask`` (a PNG path, relative
to the prompts file; non-zero = object). A new ``object_id`` introduces an object, its ``label``
naming its category (default "object" on the first prompted frame); an entry without a label on
a later frame is a correction and needs an object already known. Entries apply in file order
within a frame, as the Tracker applies prompts (a later one on the same frame replaces the points).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from sam2_core.prompts import validate_prompt
from sam2_ros.labelling.config import LabelInputError

KEYS = ("frame", "stamp", "object_id", "label", "points", "point_labels", "box", "mask")
DEFAULT_LABEL = "object"
MAX_OBJECT_ID = 65535  # label images are mono16, 0 = background


@dataclass
class PromptEntry:
    """One validated prompt of the file (``position``: 1-based entry number, for messages)."""

    position: int
    object_id: int
    frame: int | None = None  # set from ``stamp`` by ``resolve_frames`` when only a stamp is given
    stamp: float | None = None
    label: str | None = None
    points: list[list[float]] | None = None
    point_labels: list[int] | None = None
    box: list[float] | None = None
    mask_path: str | None = None
    mask: np.ndarray | None = None  # H x W bool, read from mask_path
    mask_digest: str = ""

    def where(self) -> str:
        at = f"frame {self.frame}" if self.frame is not None else f"stamp {self.stamp}"
        return f"prompt {self.position} ({at}, object {self.object_id})"

    def summary(self) -> dict[str, Any]:
        """What the entry asks, as plain values (a resumed run checks the frames it has done are unchanged)."""
        return {
            "frame": self.frame,
            "object_id": self.object_id,
            "label": self.label,
            "points": self.points,
            "point_labels": self.point_labels,
            "box": self.box,
            "mask": self.mask_digest or None,
        }


def _fail(position: int, message: str) -> LabelInputError:
    return LabelInputError(f"prompt {position}: {message}")


def _read_mask(path: Path, position: int) -> tuple[np.ndarray, str]:
    data = path.read_bytes() if path.is_file() else b""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise _fail(position, f"mask '{path}' does not exist or is not an image OpenCV can read")
    if image.ndim == 2:
        mask = image != 0
    else:
        colour = image[..., :3]
        alpha = image[..., 3] if image.shape[2] == 4 else None
        if alpha is not None and (colour == colour.reshape(-1, 3)[0]).all() and (alpha != alpha.flat[0]).any():
            mask = alpha != 0  # one colour everywhere, the alpha channel draws the mask
        else:
            mask = (colour != 0).any(axis=2)  # alpha ignored: an opaque black background is background
    return mask, hashlib.sha1(data).hexdigest()


def _entry(raw: Any, position: int, folder: Path) -> PromptEntry:
    if not isinstance(raw, dict):
        raise _fail(position, f"must be a mapping with {', '.join(KEYS)}, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise _fail(position, f"unknown key(s) {unknown}; known keys: {', '.join(KEYS)}")
    object_id = raw.get("object_id")
    if isinstance(object_id, bool) or not isinstance(object_id, int) or not 1 <= object_id <= MAX_OBJECT_ID:
        raise _fail(position, f"object_id must be an integer 1..{MAX_OBJECT_ID}, got {object_id!r}")
    entry = PromptEntry(position, object_id)
    if ("frame" in raw) == ("stamp" in raw):
        raise _fail(position, "give exactly one of 'frame' (image index) and 'stamp' (seconds)")
    if "frame" in raw:
        frame = raw["frame"]
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise _fail(position, f"frame must be an integer >= 0, got {frame!r}")
        entry.frame = frame
    else:
        stamp = raw["stamp"]
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not np.isfinite(stamp):
            raise _fail(position, f"stamp must be a number of seconds, got {stamp!r}")
        entry.stamp = float(stamp)
    if "label" in raw:
        if not isinstance(raw["label"], str) or not raw["label"].strip():
            raise _fail(position, f"label must be a non-empty string, got {raw['label']!r}")
        entry.label = raw["label"].strip()
    points, labels = raw.get("points"), raw.get("point_labels")
    if labels is not None and points is None:
        raise _fail(position, "point_labels without points")
    if points is not None and not isinstance(points, list):
        raise _fail(position, f"points must be a list of [x, y] pixels, got {points!r}")
    if points is not None and labels is None:
        labels = [1] * len(points)
    try:
        checked = validate_prompt(points, labels, raw.get("box"), None, require_any=False)
    except ValueError as error:
        raise _fail(position, str(error)) from None
    if checked.points is not None and len(checked.points):
        entry.points = checked.points.tolist()
        entry.point_labels = [int(v) for v in checked.labels.tolist()]
    if checked.box is not None:
        entry.box = checked.box.tolist()
    if raw.get("mask") is not None:
        if not isinstance(raw["mask"], str):
            raise _fail(position, f"mask must be the path of a PNG, got {raw['mask']!r}")
        if entry.points or entry.box:
            raise _fail(position, "give either points/box or a mask in one prompt, not both")
        path = folder / os.path.expanduser(raw["mask"])
        entry.mask_path = str(path)
        entry.mask, entry.mask_digest = _read_mask(path, position)
    if not entry.points and entry.box is None and entry.mask is None:
        raise _fail(position, "empty prompt: give points (with point_labels), a box or a mask")
    return entry


def load_prompts(path: str) -> list[PromptEntry]:
    """The entries of a YAML (or JSON) prompts file, validated; LabelInputError naming the problem."""
    file = Path(path).expanduser()
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise LabelInputError(
            f"cannot read prompts file '{path}': {getattr(error, 'strerror', None) or error}"
        ) from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LabelInputError(
            f"prompts file '{path}' is not valid {file.suffix.lstrip('.') or 'YAML'}: {first}"
        ) from None
    if not isinstance(data, list) or not data:
        raise LabelInputError(f"prompts file '{path}' must hold a non-empty list of prompts")
    return [_entry(raw, i + 1, file.parent) for i, raw in enumerate(data)]


def frame_of_stamp(stamp: float, stamps_ns: list[int]) -> int:
    """The index of the frame whose stamp is nearest ``stamp`` (seconds), within half a frame period.

    Stamps need not be sorted (a bag's header stamps are in recording order: several publishers,
    late frames); on a tie the earlier frame wins.
    """
    if not len(stamps_ns):
        raise ValueError("the source has no frames")
    target = round(stamp * 1e9)
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    periods = np.diff(np.sort(stamps))
    periods = periods[periods > 0]
    tolerance = float(np.median(periods)) / 2 if len(periods) else 5e8
    nearest = int(np.argmin(np.abs(stamps - target)))
    if abs(int(stamps[nearest]) - target) > tolerance:
        first, last = int(stamps.min()), int(stamps.max())
        if target < first - tolerance or target > last + tolerance:
            raise ValueError(
                f"stamp {stamp:.9g} s is outside the source (its images span {first / 1e9:.9g} .. {last / 1e9:.9g} s)"
            )
        raise ValueError(
            f"stamp {stamp:.9g} s matches no image: the nearest, frame {nearest}, is at {stamps[nearest] / 1e9:.9g} s"
        )
    return nearest


def resolve_frames(
    entries: list[PromptEntry],
    *,
    length: int | None,
    stamps_ns: Any,
    first: int,
    last: int | None,
    max_id: int = MAX_OBJECT_ID,
) -> dict[int, list[PromptEntry]]:
    """Entries grouped by frame (file order within a frame), checked against the source and the range.

    ``stamps_ns``: a callable giving every frame's stamp (only called when an entry has a stamp);
    ``first``/``last``: the labelled range of frame indices (``last`` None: to the end). Also checks
    each object is introduced before it is corrected, keeps its label, and fits ``max_id``.
    """
    stamps = None
    for e in entries:
        if e.frame is None:
            stamps = stamps if stamps is not None else stamps_ns()
            try:
                e.frame = frame_of_stamp(e.stamp, stamps)
            except ValueError as error:
                raise _fail(e.position, str(error)) from None
        if length is not None and e.frame >= length:
            raise _fail(
                e.position, f"frame {e.frame} is outside the source, which has {length} images (0..{length - 1})"
            )
        if e.frame < first or (last is not None and e.frame > last):
            end = "the end" if last is None else str(last)
            raise _fail(
                e.position, f"frame {e.frame} is outside the labelled range (--start/--end: frames {first}..{end})"
            )
        if e.object_id > max_id:
            raise _fail(e.position, f"object_id {e.object_id} is above {max_id}, the most DAVIS annotations hold")
    ordered = sorted(entries, key=lambda e: (e.frame, e.position))
    first_prompted = ordered[0].frame
    labels: dict[int, str] = {}
    by_frame: dict[int, list[PromptEntry]] = {}
    for e in ordered:
        if e.object_id not in labels:
            if e.label is None and e.frame != first_prompted:
                raise _fail(
                    e.position,
                    f"frame {e.frame}: a correction (no label) for object {e.object_id}, which no earlier prompt "
                    f"introduced (known objects: {sorted(labels) or 'none'}); give a new object its label",
                )
            labels[e.object_id] = e.label or DEFAULT_LABEL
        elif e.label is not None and e.label != labels[e.object_id]:
            raise _fail(
                e.position, f"object {e.object_id} is '{labels[e.object_id]}'; its label cannot become '{e.label}'"
            )
        e.label = labels[e.object_id]
        by_frame.setdefault(e.frame, []).append(e)
    return by_frame
