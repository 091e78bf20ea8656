# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Objects found without a prompt: the ~/segment_everything service, periodic discovery and forgetting.

Everything here runs on the node's worker thread (``TrackingWorker``): the service handler only
waits for the worker. The rules (which masks become objects, when discovery is due, when an
object is forgotten) are in ``mask_rules``; this module applies them to the node's
``TrackingSession`` with the automatic mask generator of ``sam2_core`` on the tracker's model.
No rclpy import: the node passes its logger, parameter reader and worker call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.outputs import frame_labels, object_geometries, to_numpy, tracked_object
from sam2_ros.prompts import PromptSpec
from sam2_ros.seeding.mask_rules import (
    AbsenceCounter,
    DiscoveryClock,
    SeedingRules,
    Selection,
    min_area_px,
    room_for,
    seed_tracker,
    select_new_masks,
)

DEFAULT_LABEL = "object"


@dataclass(frozen=True)
class GeneratorSettings:
    """What the automatic mask generator is built with (the node's ``auto_*`` parameters)."""

    points_per_side: int = 16
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.7
    stability_score_thresh: float = 0.85


MaskGenerator = Callable[[np.ndarray], list[dict[str, Any]]]
GeneratorFactory = Callable[[Any, GeneratorSettings], MaskGenerator]


def make_mask_generator(tracker: Any, settings: GeneratorSettings) -> MaskGenerator:
    """``sam2_core.AutomaticMaskGenerator(tracker.model, ...).generate``: masks of an H x W x 3 uint8 RGB image."""
    model = getattr(tracker, "model", None)
    if model is None:
        raise ValueError("this tracker has no SAM 2 model to run the automatic mask generator with")
    from sam2_core import AutomaticMaskGenerator

    return AutomaticMaskGenerator(
        model,
        points_per_side=settings.points_per_side,
        points_per_batch=settings.points_per_batch,
        pred_iou_thresh=settings.pred_iou_thresh,
        stability_score_thresh=settings.stability_score_thresh,
    ).generate


@dataclass
class SeedOutcome:
    """What one segment-everything step did."""

    object_ids: list[int]  # added, best predicted IoU first
    selection: Selection
    seconds: float  # time in the generator
    result: Any  # the tracker's result after the additions (None when nothing is known)
    label: str

    def message(self) -> str:
        ids = f"added {len(self.object_ids)} object(s)" + (
            f" {self.object_ids} ('{self.label}')" if self.object_ids else ""
        )
        return f"{ids}: {self.selection.summary()}; generator {self.seconds:.2f} s"


class ObjectDiscovery:
    """Adds objects from the automatic mask generator to a ``TrackingSession``; forgets absent ones.

    session: the node's TrackingSession; live(name): reads a live parameter; max_objects: the
    tracker's capacity; call_worker(command): runs ``command`` on the worker and returns its
    result (raising its exception); reason(error): a one-line reason; log: the node's logger;
    warn_throttled(text): a warning at most once per few seconds; generator_factory(tracker,
    settings): builds the mask generator (tests pass a scripted one).
    """

    def __init__(
        self,
        session: Any,
        *,
        live: Callable[[str], Any],
        max_objects: int,
        call_worker: Callable[[Callable[[], Any]], Any],
        reason: Callable[[BaseException], str],
        log: Any,
        warn_throttled: Callable[[str], None],
        generator_factory: GeneratorFactory = make_mask_generator,
    ) -> None:
        self._session = session
        self._live = live
        self._max_objects = max_objects
        self._call_worker = call_worker
        self._reason = reason
        self._log = log
        self._warn = warn_throttled
        self._factory = generator_factory
        self._generator: MaskGenerator | None = None
        self._generator_settings: GeneratorSettings | None = None
        self._clock = DiscoveryClock()
        self._absence = AbsenceCounter()
        self.discovery_runs = 0
        self.discovered = 0
        self.forgotten = 0

    # --- one step (worker thread) ---------------------------------------------------------
    def _settings(self) -> GeneratorSettings:
        live = self._live
        return GeneratorSettings(
            points_per_side=int(live("auto_points_per_side")),
            points_per_batch=int(live("auto_points_per_batch")),
            pred_iou_thresh=float(live("auto_pred_iou_thresh")),
            stability_score_thresh=float(live("auto_stability_score_thresh")),
        )

    def _mask_generator(self) -> MaskGenerator:
        settings = self._settings()
        if self._generator is None or settings != self._generator_settings:
            self._generator = self._factory(self._session.tracker, settings)
            self._generator_settings = settings
        return self._generator

    def segment_everything(
        self,
        label: str = "",
        max_new_objects: int = 0,
        min_area_fraction: float = 0.0,
        owned: np.ndarray | None = None,
    ) -> SeedOutcome:
        """Run the generator on the latest image and add what is new (worker thread only).

        owned: H x W bool pixels tracked objects own; None = from the latest result's label image.
        ValueError (and nothing changed) before any image, when the tracker is full, or for bad
        arguments; an exception of the generator or the tracker also leaves every object as it was.
        """
        session = self._session
        rgb = session.latest_rgb
        if session.frame is None or rgb is None:
            raise ValueError("no image received yet; segment_everything works on the latest image")
        tracked = len(session.names)
        limit = room_for(int(max_new_objects), tracked, self._max_objects)
        if limit == 0:
            raise ValueError(
                f"the tracker is full: {tracked} object(s) tracked, max_objects is {self._max_objects};"
                " remove some (or reset) first"
            )
        height, width = rgb.shape[:2]
        rules = SeedingRules(
            min_area_px=min_area_px(float(min_area_fraction), int(self._live("auto_min_area_px")), (height, width)),
            max_area_fraction=float(self._live("auto_max_area_fraction")),
            max_overlap=float(self._live("auto_max_overlap")),
        )
        if owned is None:
            owned = self._owned_pixels((height, width))
        generator = self._mask_generator()
        started = time.monotonic()
        records = generator(rgb)
        seconds = time.monotonic() - started
        selection = select_new_masks(records, owned, rules, limit)
        label = label or DEFAULT_LABEL

        def add_mask(object_id: int, mask: np.ndarray) -> Any:
            spec = PromptSpec(object_id=object_id, label=label, mask=mask, source="segment_everything")
            return session.add_prompt(spec)

        ids = seed_tracker(add_mask, session.remove, session.next_object_id, selection.chosen)
        return SeedOutcome(ids, selection, seconds, session.latest_result, label)

    def _owned_pixels(self, hw: tuple[int, int]) -> np.ndarray:
        session = self._session
        if not session.names:
            return np.zeros(hw, dtype=bool)
        result = session.latest_result
        if result is None:
            raise ValueError(
                "the tracked objects' masks on the latest image are not known (an object was removed or a"
                " frame failed since it was tracked); try again after the next frame"
            )
        return frame_labels(result)[0] > 0

    def tracked_objects(self, outcome: SeedOutcome) -> list[Any]:
        """TrackedObject messages of the added objects, as the label image of the outcome's result shows them."""
        result = outcome.result
        if result is None or not outcome.object_ids:
            return []
        ids = [int(i) for i in result.obj_ids]
        labels, regions = frame_labels(result)
        scores = to_numpy(result.object_scores).reshape(-1)
        geometries = object_geometries(labels, outcome.object_ids, float(self._live("contour_epsilon_px")), regions)
        return [
            tracked_object(g, label=self._session.names.get(i, ""), score_logit=float(scores[ids.index(i)]))
            for i, g in zip(outcome.object_ids, geometries)
        ]

    # --- after every tracked frame (worker thread) ----------------------------------------
    def after_frame(self, frame: Any, result: Any) -> None:
        """Forget objects absent ``forget_after_frames`` frames in a row; run discovery when it is due.

        Never raises: a failure is logged (throttled) and tracking goes on.
        """
        try:
            self._after_frame(frame, result)
        except Exception as error:  # noqa: BLE001 - the frame itself was tracked and published
            self._warn(f"discovery / forgetting after a frame failed: {self._reason(error)}")

    def _after_frame(self, frame: Any, result: Any) -> None:
        ids = [int(i) for i in result.obj_ids]
        now_ns = int(frame.stamp_ns) or int(frame.receipt_ns)
        due = self._clock.due(now_ns, float(self._live("discover_period_s")))
        owned = None
        if due:
            # ownership on this frame, before forgetting: forgotten objects are absent and own no pixel
            owned = frame_labels(result)[0] > 0
        scores = to_numpy(result.object_scores).reshape(-1).tolist()
        forget_after = int(self._live("forget_after_frames"))
        for object_id in self._absence.update(ids, scores, forget_after):
            self._forget(object_id, forget_after)
        if due:
            self._clock.ran(now_ns)
            self._discover(owned)

    def _forget(self, object_id: int, frames: int) -> None:
        label = self._session.names.get(object_id, "")
        try:
            self._session.remove(object_id)
        except (KeyError, ValueError) as error:
            self._warn(f"could not forget object {object_id}: {self._reason(error)}")
            return
        self._absence.forget(object_id)
        self.forgotten += 1
        self._log.info(f"object {object_id} ('{label}') forgotten: reported absent {frames} frames in a row")

    def _discover(self, owned: np.ndarray) -> None:
        session = self._session
        if len(session.names) >= self._max_objects:
            return  # full: nothing could be added, so the generator is not run
        self.discovery_runs += 1
        try:
            outcome = self.segment_everything(owned=owned)
        except Exception as error:  # noqa: BLE001 - one failed run must not stop tracking
            self._warn(f"discovery failed: {self._reason(error)}")
            return
        self.discovered += len(outcome.object_ids)
        if outcome.object_ids:
            self._log.info(f"discovery {outcome.message()}")

    def diagnostic_values(self) -> dict[str, int]:
        """Counters for /diagnostics."""
        return {
            "discovery_runs": self.discovery_runs,
            "objects_discovered": self.discovered,
            "objects_forgotten": self.forgotten,
        }

    # --- the service (executor thread: waits for the worker) -------------------------------
    def on_segment_everything(self, request: Any, response: Any) -> Any:
        """``~/segment_everything`` (sam2_ros/SegmentEverything)."""

        def command() -> tuple[SeedOutcome, list[Any]]:
            outcome = self.segment_everything(
                label=request.label,
                max_new_objects=int(request.max_new_objects),
                min_area_fraction=float(request.min_area_fraction),
            )
            return outcome, self.tracked_objects(outcome)

        try:
            outcome, objects = self._call_worker(command)
        except Exception as error:  # noqa: BLE001 - every failure is answered, none kills the node
            response.success, response.message = False, self._reason(error)
            self._log.warning(f"segment_everything failed: {response.message}")
            return response
        response.success, response.message = True, outcome.message()
        response.object_ids = [int(i) for i in outcome.object_ids]
        response.objects = objects
        self._log.info(f"segment_everything {response.message}")
        return response
