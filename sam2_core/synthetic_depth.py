# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Exact depth for synthetic scenes: each shape a flat plate at its own depth in front of a background plane.

Depth is z along the optical axis in metres (what a depth camera's image holds). The
background is a plane whose inverse depth is linear in the pixel coordinates, so it is a
plane in 3-D for any pinhole camera; each drawn shape (target, distractor, occluder band)
is a fronto-parallel plate whose depth follows its drawing order (a shape drawn later is
nearer), so the depth image agrees with the label map pixel for pixel. Depths vary slowly
over time inside each shape's own slot, so the order never changes.

The plan is drawn from its own random stream (seeded from the scene seed), so adding depth
changes nothing in a scene's images, labels or events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BACKGROUND_DEPTH_M = 3.0  # the background plane's depth at the image centre
BACKGROUND_TILT = 0.3  # relative change of the background's inverse depth from the top edge to the bottom edge
NEAR_M, FAR_M = 0.8, 2.4  # shapes (targets and distractors) lie between these depths
BAND_DEPTH_M = 0.6  # the occluder band, in front of everything
_DEPTH_STREAM = 0x5D3E  # second entropy word of the depth plan's random stream (the first is the seed)


@dataclass(frozen=True)
class SurfacePoints3D:
    """The visible surface of one object on one frame, in the camera's optical frame (metres).

    pixels: visible mask pixels (0 when hidden; the other fields are then NaN);
    centroid: mean of the back-projected points; lower, upper: per-axis minimum and maximum.
    """

    obj_id: int
    pixels: int
    centroid: np.ndarray  # 3
    lower: np.ndarray  # 3
    upper: np.ndarray  # 3


class SceneDepth:
    """Depth of every label of a scene over time (built by SyntheticScene, see ``SyntheticScene.depth``)."""

    def __init__(self, seed: int, height: int, width: int, layer_labels: Sequence[int]) -> None:
        # layer_labels: the label of each drawn shape, in drawing order (first drawn is farthest)
        rng = np.random.default_rng([int(seed), _DEPTH_STREAM])
        self.height, self.width = height, width
        n = max(len(layer_labels), 1)
        slot = (FAR_M - NEAR_M) / n
        self._labels = np.asarray(layer_labels, dtype=np.int64)
        self._base = FAR_M - (np.arange(len(layer_labels)) + 0.5) * slot
        self._amp = 0.4 * slot * rng.uniform(0.3, 1.0, len(layer_labels))
        self._freq = 2 * np.pi / rng.uniform(40.0, 120.0, len(layer_labels))
        self._phase = rng.uniform(0, 2 * np.pi, len(layer_labels))
        tilt_u = rng.uniform(-0.1, 0.1)
        v = (np.arange(height, dtype=np.float64) - (height - 1) / 2) / height
        u = (np.arange(width, dtype=np.float64) - (width - 1) / 2) / width
        inverse = (1.0 + BACKGROUND_TILT * v[:, None] + tilt_u * u[None, :]) / BACKGROUND_DEPTH_M
        self.background = (1.0 / inverse).astype(np.float32)  # H x W

    def label_depths(self, t: int) -> dict[int, float]:
        """label -> depth in metres on frame ``t`` of every drawn shape (and the band, label -1)."""
        z = self._base + self._amp * np.sin(self._freq * t + self._phase)
        return {-1: BAND_DEPTH_M, **{int(k): float(d) for k, d in zip(self._labels, z)}}

    def image(self, label: np.ndarray, t: int) -> np.ndarray:
        """H x W float32 depth of frame ``t`` from its H x W int8 label map (0 = background)."""
        table = np.full(256, np.nan, dtype=np.float32)
        for k, d in self.label_depths(t).items():
            table[k + 128] = d
        depth = table[label.astype(np.int64) + 128]
        return np.where(label == 0, self.background, depth).astype(np.float32)


def surface_points(
    label: np.ndarray,
    depth: np.ndarray,
    obj_id: int,
    intrinsics: tuple[float, float, float, float],
) -> SurfacePoints3D:
    """The visible surface of ``obj_id`` (label map value) back-projected with pinhole ``(fx, fy, cx, cy)``.

    label: H x W label map; depth: H x W metres (``SceneDepth.image``).
    """
    fx, fy, cx, cy = intrinsics
    vs, us = np.nonzero(label == obj_id)
    if vs.size == 0:
        nan = np.full(3, math.nan)
        return SurfacePoints3D(int(obj_id), 0, nan, nan.copy(), nan.copy())
    z = depth[vs, us].astype(np.float64)
    points = np.stack([(us - cx) / fx * z, (vs - cy) / fy * z, z], axis=1)
    return SurfacePoints3D(int(obj_id), int(vs.size), points.mean(0), points.min(0), points.max(0))
