# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Simulated user prompts for training and evaluation: clicks, noisy boxes and correction clicks."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def center_click(mask: np.ndarray) -> tuple[float, float]:
    """The pixel of an ``H x W`` bool mask farthest from its outline, as (x, y); the deterministic
    click that evaluation uses (a person clicks well inside an object)."""
    if not mask.any():
        raise ValueError("cannot click on an empty mask")
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x), float(y)


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Tight box (x_min, y_min, x_max, y_max) in pixels of an ``H x W`` bool mask."""
    ys, xs = np.nonzero(mask)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def random_click(rng: np.random.Generator, mask: np.ndarray, p_center: float = 0.3) -> tuple[float, float]:
    """A positive click on an ``H x W`` bool mask: its centre (``p_center``) or a uniform pixel."""
    if rng.random() < p_center:
        return center_click(mask)
    ys, xs = np.nonzero(mask)
    i = int(rng.integers(len(xs)))
    return float(xs[i]), float(ys[i])


def noisy_box(rng: np.random.Generator, mask: np.ndarray, noise: float = 0.1) -> tuple[float, float, float, float]:
    """The mask's box with each side moved by Gaussian noise (``noise`` x box side), clipped."""
    x0, y0, x1, y1 = mask_box(mask)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    jitter = rng.normal(0.0, noise, 4) * np.array([w, h, w, h])
    hgt, wid = mask.shape
    x0, x1 = np.clip([x0 + jitter[0], x1 + jitter[2]], 0, wid - 1)
    y0, y1 = np.clip([y0 + jitter[1], y1 + jitter[3]], 0, hgt - 1)
    return float(min(x0, x1)), float(min(y0, y1)), float(max(x0, x1)), float(max(y0, y1))


def correction_clicks(
    rng: np.random.Generator, pred: torch.Tensor, gt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One correction click per object from its error region, as a user fixing a mask would.

    pred, gt: B x H x W bool. The click is uniform over the pixels that are wrong (missed object:
    positive click; spurious mask: negative click); an object without errors gets a click on its
    mask (or a negative one anywhere when absent). Returns (B x 1 x 2 float (x, y), B x 1 int32 labels).
    """
    coords, labels = [], []
    for p, g in zip(pred.cpu().numpy(), gt.cpu().numpy(), strict=True):
        error = p != g
        region = error if error.any() else (g if g.any() else np.ones_like(g))
        ys, xs = np.nonzero(region)
        i = int(rng.integers(len(xs)))
        x, y = int(xs[i]), int(ys[i])
        coords.append((float(x), float(y)))
        labels.append(1 if g[y, x] else 0)
    return (
        torch.tensor(coords, dtype=torch.float32, device=pred.device)[:, None],
        torch.tensor(labels, dtype=torch.int32, device=pred.device)[:, None],
    )
