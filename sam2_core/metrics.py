# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DAVIS video-segmentation metrics: region similarity J, boundary accuracy F, and their means."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: intersection over union of two ``H x W`` masks; two empty masks count as a perfect 1.0."""
    pred, gt = _as_bool(pred), _as_bool(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {gt.shape}")
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """``H x W`` bool map of the pixels where the mask changes towards the right, down or down-right.

    This is the DAVIS convention (its ``seg2bmap`` at full resolution): a pixel is on the boundary when
    it differs from its right, lower or lower-right neighbour; in the last row only the right neighbour
    counts, in the last column only the lower one, so the image border itself is never a boundary.
    """
    m = _as_bool(mask)
    b = np.zeros_like(m)
    b[:, :-1] |= m[:, :-1] != m[:, 1:]
    b[:-1, :] |= m[:-1, :] != m[1:, :]
    b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
    b[-1, -1] = False
    return b


def _disk(radius: int) -> np.ndarray:
    """``(2r+1) x (2r+1)`` uint8 structuring element of the pixels within ``radius`` of the centre."""
    yy, xx = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """F: harmonic mean of boundary precision and recall between two ``H x W`` masks, as DAVIS defines it.

    A boundary pixel of one mask is matched when a boundary pixel of the other lies within the tolerance
    radius: ``ceil(bound_th * image diagonal)`` pixels, or ``bound_th`` pixels itself when it is >= 1.
    Two empty masks score 1.0; exactly one empty mask scores 0.0.
    """
    pred, gt = _as_bool(pred), _as_bool(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {gt.shape}")
    radius = int(bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*pred.shape)))
    pred_b, gt_b = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = np.count_nonzero(pred_b), np.count_nonzero(gt_b)
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    disk = _disk(radius)
    pred_near = cv2.dilate(pred_b.view(np.uint8), disk).view(bool)
    gt_near = cv2.dilate(gt_b.view(np.uint8), disk).view(bool)
    precision = np.count_nonzero(pred_b & gt_near) / n_pred
    recall = np.count_nonzero(gt_b & pred_near) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """Mean, recall (fraction of frames > 0.5) and decay (first quarter minus last quarter) of a series.

    Decay follows DAVIS: four bins from rounding ``linspace(1, n, 5)``, consecutive bins sharing an edge.
    """
    n = len(per_frame)
    edges = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(int)
    bins = [per_frame[edges[i] : edges[i + 1] + 1] for i in range(4)]
    return float(per_frame.mean()), float((per_frame > 0.5).mean()), float(bins[0].mean() - bins[3].mean())


def evaluate_sequence(
    pred_masks: np.ndarray,
    gt_masks: np.ndarray,
    skip_first: bool = True,
    skip_last: bool = False,
    bound_th: float = 0.008,
) -> dict[str, np.ndarray | float]:
    """J and F of one video, per frame and per object.

    ``pred_masks`` and ``gt_masks``: ``T x K x H x W`` (bool, or non-zero = object), object k in slot k
    of both. DAVIS semi-supervised evaluation skips the first frame (it carries the prompt); the
    davis2017 evaluation scripts also drop the last one, which ``skip_last`` reproduces.

    Returns ``J_per_frame`` and ``F_per_frame`` (``T' x K``); per object (``K``): ``J_mean``,
    ``J_recall``, ``J_decay``, ``F_mean``, ``F_recall``, ``F_decay``, ``J&F_mean``; and the video's
    means over objects as floats ``J``, ``F``, ``J&F``.
    """
    pred_masks, gt_masks = np.asarray(pred_masks), np.asarray(gt_masks)
    if pred_masks.shape != gt_masks.shape or pred_masks.ndim != 4:
        raise ValueError(f"expected two T x K x H x W arrays of one shape, got {pred_masks.shape}, {gt_masks.shape}")
    frames = range(int(skip_first), pred_masks.shape[0] - int(skip_last))
    k = pred_masks.shape[1]
    if len(frames) == 0 or k == 0:
        raise ValueError("nothing to evaluate: no frames left after skipping, or no objects")
    j = np.array([[region_similarity(pred_masks[t, o], gt_masks[t, o]) for o in range(k)] for t in frames])
    f = np.array([[boundary_f_measure(pred_masks[t, o], gt_masks[t, o], bound_th) for o in range(k)] for t in frames])
    out: dict[str, np.ndarray | float] = {"J_per_frame": j, "F_per_frame": f}
    for name, series in (("J", j), ("F", f)):
        stats = np.array([_statistics(series[:, o]) for o in range(k)])
        out[f"{name}_mean"], out[f"{name}_recall"], out[f"{name}_decay"] = stats.T
    out["J&F_mean"] = (out["J_mean"] + out["F_mean"]) / 2
    out["J"] = float(out["J_mean"].mean())
    out["F"] = float(out["F_mean"].mean())
    out["J&F"] = (out["J"] + out["F"]) / 2
    return out


def summarize(results: Sequence[Mapping[str, np.ndarray | float]]) -> dict[str, float | int]:
    """Scores over a set of videos from their ``evaluate_sequence`` results.

    ``J``, ``F`` and ``J&F`` pool every object of every video, as the DAVIS benchmark's global scores do
    (a video with more objects weighs more); recall and decay are pooled the same way.
    ``J&F_per_video`` is the plain mean of the videos' own ``J&F``.
    """
    if not results:
        raise ValueError("no results to summarize")
    out: dict[str, float | int] = {}
    for key in ("J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"):
        pooled = np.concatenate([np.ravel(r[key]) for r in results])
        out[key.removesuffix("_mean")] = float(pooled.mean())
    out["J&F"] = (out["J"] + out["F"]) / 2
    out["J&F_per_video"] = float(np.mean([r["J&F"] for r in results]))
    out["num_videos"] = len(results)
    out["num_objects"] = sum(np.size(r["J_mean"]) for r in results)
    return out


def _as_bool(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"expected an H x W mask, got shape {m.shape}")
    return np.ascontiguousarray(m if m.dtype == bool else m != 0)
