# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Validation of point / box / mask prompts given in frame pixels, shared by the predictor and tracker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PromptTensors:
    """A validated prompt in frame pixels (CPU tensors)."""

    points: torch.Tensor | None  # N x 2 float32 (x, y)
    labels: torch.Tensor | None  # N int32, 1 foreground / 0 background
    box: torch.Tensor | None  # 4 float32 (x_min, y_min, x_max, y_max)
    mask: torch.Tensor | None  # H x W bool

    def coords_with_box(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Box corners first (labels 2 and 3, as SAM 2 was trained), then the points: P x 2, P."""
        coords, labels = [], []
        if self.box is not None:
            coords.append(self.box.view(2, 2))
            labels.append(torch.tensor([2, 3], dtype=torch.int32))
        if self.points is not None and len(self.points):
            coords.append(self.points)
            labels.append(self.labels)
        if not coords:
            return None, None
        return torch.cat(coords), torch.cat(labels)

    @property
    def num_points(self) -> int:
        """Points as the decoder counts them (a box is two)."""
        return (0 if self.points is None else len(self.points)) + (2 if self.box is not None else 0)


def _as_float_array(value, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric, got {type(value).__name__}") from None
    return arr


def validate_prompt(
    points=None,
    labels=None,
    box=None,
    mask=None,
    frame_hw: tuple[int, int] | None = None,
    require_any: bool = True,
) -> PromptTensors:
    """Check a prompt and convert it to tensors; ValueError naming the problem otherwise.

    points: N x 2 pixel (x, y) (1 x N x 2 accepted); labels: N values in {0, 1}; box: 4 values
    with x_max >= x_min and y_max >= y_min; mask: H x W (bool or numbers, non-zero = object) of
    the frame's size. Points and boxes outside the frame are accepted and used as given (the
    model extrapolates its positional encoding, as the reference does); only non-finite
    values are rejected.
    """
    pts = lab = bx = msk = None
    if (points is None) != (labels is None):
        raise ValueError("points and labels must be given together")
    if points is not None:
        p = _as_float_array(points, "points")
        if p.ndim == 3 and p.shape[0] == 1:
            p = p[0]
        if p.size == 0:
            p = p.reshape(0, 2)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"points must be N x 2 (x, y) pixel coordinates, got shape {p.shape}")
        if not np.isfinite(p).all():
            raise ValueError("points contain NaN or infinite coordinates")
        lb = _as_float_array(labels, "labels")
        if lb.ndim == 2 and lb.shape[0] == 1:
            lb = lb[0]
        if lb.ndim != 1 or len(lb) != len(p):
            raise ValueError(f"got {len(p)} points but {lb.size} labels; give one label per point")
        if not np.isin(lb, (0, 1)).all():
            bad = sorted({float(v) for v in lb[~np.isin(lb, (0, 1))]})[:5]
            raise ValueError(f"labels must be 1 (foreground) or 0 (background), got {bad}")
        pts = torch.from_numpy(p.astype(np.float32))
        lab = torch.from_numpy(lb.astype(np.int32))
    if box is not None:
        b = _as_float_array(box, "box").reshape(-1)
        if b.size != 4:
            raise ValueError(f"box must have 4 values (x_min, y_min, x_max, y_max), got {b.size}")
        if not np.isfinite(b).all():
            raise ValueError("box contains NaN or infinite values")
        if b[2] < b[0] or b[3] < b[1]:
            raise ValueError(f"box is inverted: need x_max >= x_min and y_max >= y_min, got {b.tolist()}")
        bx = torch.from_numpy(b.astype(np.float32))
    if mask is not None:
        m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f"mask must be H x W, got shape {m.shape}")
        if frame_hw is not None and tuple(m.shape) != tuple(frame_hw):
            raise ValueError(f"mask is {m.shape[0]} x {m.shape[1]} but the frame is {frame_hw[0]} x {frame_hw[1]}")
        if m.dtype != bool:
            if not np.issubdtype(m.dtype, np.number):
                raise ValueError(f"mask must be boolean or numeric, got dtype {m.dtype}")
            m = m != 0
        msk = torch.from_numpy(np.ascontiguousarray(m))
    prompt = PromptTensors(pts, lab, bx, msk)
    if require_any and prompt.num_points == 0 and msk is None:
        raise ValueError("empty prompt: give points with labels, a box, or a mask")
    return prompt
