# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``--auto`` and ``--text``: the first frame's prompts from sam2_core's automatic mask generator or detector.

Both are optional parts of sam2_core, imported when asked for: ``sam2_core.AutomaticMaskGenerator
(model, ...).generate(rgb)`` (SAM's "segment everything": dicts with ``segmentation``, ``area``, ...;
chosen with the node's ``~/segment_everything`` rules)
and ``sam2_core.detection.OpenVocabularyDetector(name, device=..., dtype=...).detect(rgb, phrases,
box_threshold=..., text_threshold=...)`` (detections with ``box``, ``score``, ``phrase``). Where
one is missing the run stops with exit status 2 and says so.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.labelling.config import LabelInputError
from sam2_ros.seeding.discovery import GeneratorSettings
from sam2_ros.seeding.mask_rules import SeedingRules, select_new_masks


@dataclass
class AutoPrompt:
    """One object to add on the first frame: a mask (``--auto``) or a box (``--text``)."""

    object_id: int
    label: str
    mask: np.ndarray | None = None  # H x W bool
    box: list[float] | None = None  # x0, y0, x1, y1 pixels


def _generator_class() -> Any:
    import sam2_core

    generator_class = getattr(sam2_core, "AutomaticMaskGenerator", None)
    if generator_class is None:
        raise LabelInputError("--auto needs sam2_core.AutomaticMaskGenerator, which this sam2_core does not have")
    return generator_class


def _detector_class() -> Any:
    missing = "--text needs sam2_core.detection.OpenVocabularyDetector, which this sam2_core does not have"
    try:
        module = importlib.import_module("sam2_core.detection")
    except ModuleNotFoundError as error:
        if error.name in ("sam2_core.detection", None):
            raise LabelInputError(missing) from None
        raise LabelInputError(f"--text: sam2_core.detection needs the Python package '{error.name}'") from None
    except ImportError:
        raise LabelInputError(missing) from None
    if not hasattr(module, "OpenVocabularyDetector"):
        raise LabelInputError(missing)
    return module.OpenVocabularyDetector


def check_available(auto: bool, text: bool, detector_name: str | None) -> None:
    """LabelInputError now, before the model loads, when --auto / --text cannot run here."""
    if auto:
        _generator_class()
    if text:
        if not detector_name:
            raise LabelInputError("--text needs --detector MODEL (the open-vocabulary detector to find the phrases)")
        _detector_class()


def automatic_prompts(model: Any, rgb: np.ndarray, max_objects: int) -> list[AutoPrompt]:
    """SAM's "segment everything" on ``rgb`` as the node's ``~/segment_everything`` does it.

    The generator runs with the node's ``auto_*`` defaults and the masks are chosen by the node's
    rules (``sam2_ros.seeding.mask_rules``: not smaller than ``auto_min_area_px``, not floor-sized, not mostly a
    part of a mask chosen before): at most ``max_objects``, best predicted IoU first, ids 1...
    """
    generator_class = _generator_class()
    settings = GeneratorSettings()
    try:
        records = generator_class(
            model,
            points_per_side=settings.points_per_side,
            points_per_batch=settings.points_per_batch,
            pred_iou_thresh=settings.pred_iou_thresh,
            stability_score_thresh=settings.stability_score_thresh,
        ).generate(rgb)
    except Exception as error:  # the generator's own failure, named
        raise LabelInputError(f"--auto: the automatic mask generator failed: {error}") from None
    nothing_owned = np.zeros(rgb.shape[:2], dtype=bool)
    selection = select_new_masks(records, nothing_owned, SeedingRules(), max_objects)
    if not selection.chosen:
        raise LabelInputError(f"--auto found no object on the first frame ({selection.summary()})")
    return [
        AutoPrompt(i + 1, "object", mask=np.asarray(m["segmentation"], dtype=bool))
        for i, m in enumerate(selection.chosen)
    ]


def text_prompts(
    detector_name: str | None,
    rgb: np.ndarray,
    phrases: list[str],
    *,
    device: str,
    box_threshold: float,
    text_threshold: float,
    max_objects: int,
) -> list[AutoPrompt]:
    """Boxes of ``phrases`` found by the open-vocabulary detector ``detector_name``, best first."""
    import torch

    check_available(False, True, detector_name)
    detector_class = _detector_class()
    try:
        detector = detector_class(detector_name, device=device, dtype=torch.float32)
        found = detector.detect(rgb, phrases, box_threshold=box_threshold, text_threshold=text_threshold)
    except Exception as error:  # a missing model, missing weights, ...: the detector's own message
        raise LabelInputError(f"--text: detector '{detector_name}' failed: {error}") from None
    found = sorted(found, key=lambda d: -float(d.score))[:max_objects]
    if not found:
        raise LabelInputError(
            f"--text found none of {phrases} on the first frame "
            f"(box_threshold {box_threshold}, text_threshold {text_threshold})"
        )
    return [AutoPrompt(i + 1, str(d.phrase), box=[float(v) for v in d.box]) for i, d in enumerate(found)]
