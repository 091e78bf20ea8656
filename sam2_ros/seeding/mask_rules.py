# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Choosing which automatic masks become new tracked objects, periodic discovery timing and forgetting (no rclpy).

Pure functions and small state machines used by ``discovery`` (the node side) and by the
quality tests, which drive a ``sam2_core.Tracker`` with the same rules. A mask record is a dict
as ``sam2_core.AutomaticMaskGenerator.generate`` returns it (``segmentation`` H x W bool, ``area``,
``predicted_iou``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SeedingRules:
    """Which masks are new objects. Areas in pixels; ``max_overlap`` a fraction of the mask's own pixels.

    A mask is skipped when it is smaller than ``min_area_px``, larger than ``max_area_fraction``
    of the image (floors, walls), or when at least ``max_overlap`` of its pixels are already owned
    by a tracked object (or by a mask accepted before it in the same call).
    """

    min_area_px: int = 100
    max_area_fraction: float = 0.5
    max_overlap: float = 0.5

    def __post_init__(self) -> None:
        if self.min_area_px < 0:
            raise ValueError(f"min_area_px must be >= 0, got {self.min_area_px}")
        if not 0.0 < self.max_area_fraction <= 1.0:
            raise ValueError(f"max_area_fraction must be in (0, 1], got {self.max_area_fraction}")
        if not 0.0 < self.max_overlap <= 1.0:
            raise ValueError(f"max_overlap must be in (0, 1], got {self.max_overlap}")


@dataclass
class Selection:
    """The masks chosen as new objects (best predicted IoU first) and why the others were skipped."""

    chosen: list[dict[str, Any]] = field(default_factory=list)
    found: int = 0  # masks the generator returned
    tracked: int = 0  # overlapping an object (tracked before, or chosen earlier in this call)
    too_small: int = 0
    too_large: int = 0
    over_limit: int = 0  # new, but no room left (max_new_objects / max_objects)

    def summary(self) -> str:
        skipped = [
            f"{n} {what}"
            for n, what in (
                (self.tracked, "already tracked"),
                (self.too_small, "too small"),
                (self.too_large, "too large"),
                (self.over_limit, "over the limit"),
            )
            if n
        ]
        return f"{self.found} mask(s) found" + (f"; skipped {', '.join(skipped)}" if skipped else "")


def select_new_masks(
    records: Sequence[Mapping[str, Any]], owned: np.ndarray, rules: SeedingRules, limit: int
) -> Selection:
    """Pick up to ``limit`` masks to add as objects, best ``predicted_iou`` first.

    records: generator records with ``segmentation`` (H x W bool) and ``predicted_iou``; owned:
    H x W bool, the pixels tracked objects own (from the label image). A chosen mask's pixels
    count as owned for the masks after it, so a part and its whole do not both become objects.
    """
    owned = np.array(owned, dtype=bool, copy=True)
    height, width = owned.shape
    max_area = rules.max_area_fraction * height * width
    result = Selection(found=len(records))
    ranked = sorted(records, key=lambda r: -float(r["predicted_iou"]))  # stable: ties keep the generator's order
    for record in ranked:
        mask = np.asarray(record["segmentation"], dtype=bool)
        if mask.shape != owned.shape:
            raise ValueError(f"mask is {mask.shape[0]} x {mask.shape[1]}, the image {height} x {width}")
        area = int(np.count_nonzero(mask))
        if area < max(rules.min_area_px, 1):
            result.too_small += 1
        elif area > max_area:
            result.too_large += 1
        elif np.count_nonzero(mask & owned) >= rules.max_overlap * area:
            result.tracked += 1
        elif len(result.chosen) >= limit:
            result.over_limit += 1
        else:
            result.chosen.append(record)
            owned |= mask
    return result


def min_area_px(min_area_fraction: float, default_px: int, image_hw: tuple[int, int]) -> int:
    """The smallest mask area for one call: ``min_area_fraction`` of the image, or ``default_px`` when it is 0."""
    if not math.isfinite(min_area_fraction) or not 0.0 <= min_area_fraction <= 1.0:
        raise ValueError(
            f"min_area_fraction must be in [0, 1] (0 = the auto_min_area_px parameter), got {min_area_fraction}"
        )
    if min_area_fraction == 0.0:
        return int(default_px)
    return int(math.ceil(min_area_fraction * image_hw[0] * image_hw[1]))


def room_for(max_new_objects: int, tracked: int, max_objects: int) -> int:
    """How many objects one call may add: ``max_new_objects`` (0 = all that fit), capped by ``max_objects``."""
    if max_new_objects < 0:
        raise ValueError(f"max_new_objects must be >= 0 (0 = as many as max_objects allows), got {max_new_objects}")
    free = max(max_objects - tracked, 0)
    return free if max_new_objects == 0 else min(max_new_objects, free)


class DiscoveryClock:
    """When periodic discovery is due: every ``period_s`` of image time (0 = never).

    ``due(now_ns, period_s)`` is True on the first frame after discovery is switched on, and
    then once ``period_s`` has passed since the last run; time that goes backwards (a bag
    replayed from the start) counts as due. Call ``ran(now_ns)`` after a run.
    """

    def __init__(self) -> None:
        self._last_ns: int | None = None

    def due(self, now_ns: int, period_s: float) -> bool:
        if period_s <= 0:
            self._last_ns = None
            return False
        last = self._last_ns
        return last is None or now_ns < last or (now_ns - last) >= period_s * 1e9

    def ran(self, now_ns: int) -> None:
        self._last_ns = now_ns

    def reset(self) -> None:
        self._last_ns = None


class AbsenceCounter:
    """Counts, per object, the frames in a row it was reported absent (object score logit <= 0)."""

    def __init__(self) -> None:
        self.absent: dict[int, int] = {}

    def update(self, obj_ids: Iterable[int], score_logits: Iterable[float], forget_after: int) -> list[int]:
        """Record one tracked frame; returns the ids absent ``forget_after`` frames in a row (0 = never)."""
        counts = {}
        for object_id, score in zip(obj_ids, score_logits):
            object_id = int(object_id)
            counts[object_id] = self.absent.get(object_id, 0) + 1 if float(score) <= 0.0 else 0
        self.absent = counts  # ids no longer tracked are dropped
        if forget_after <= 0:
            return []
        return [i for i, n in counts.items() if n >= forget_after]

    def forget(self, object_id: int) -> None:
        self.absent.pop(int(object_id), None)

    def reset(self) -> None:
        self.absent.clear()


def seed_tracker(
    add_mask: Callable[[int, np.ndarray], Any],
    remove: Callable[[int], Any],
    next_id: Callable[[], int],
    chosen: Sequence[Mapping[str, Any]],
) -> list[int]:
    """Add each chosen mask as a new object (ids from ``next_id()``, in order); all or nothing.

    When adding one fails, the objects this call added are removed again and the error is raised,
    so the tracker is left as it was.
    """
    added: list[int] = []
    try:
        for record in chosen:
            object_id = next_id()
            add_mask(object_id, np.asarray(record["segmentation"], dtype=bool))
            added.append(object_id)
    except BaseException:
        for object_id in reversed(added):
            try:
                remove(object_id)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        raise
    return added
