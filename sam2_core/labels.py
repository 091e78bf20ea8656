# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One H x W label image from the tracker's low-resolution logits, without upsampling every object in full.

Who owns a pixel is decided as the full-size path decides it: the low-resolution logits of every
object are bilinearly upsampled to the frame (``F.interpolate``, ``align_corners=False``), the
object with the highest logit among those that are present (score > 0) and positive there wins,
the first one on ties (``argmax``). With ``non_overlap_masks`` the highest logit over all objects
wins, present or not, and the pixel is background unless that object is present and positive (the
tracker's ``keep_highest_object``).

A bilinear upsample is a convex combination of the 4 low-resolution cells around a pixel, so a
pixel can be positive for an object only when one of those cells is positive. The lean path
therefore upsamples each object only inside the box of its positive cells (one cell wider) and
compares objects only where their boxes meet. For the results to be the same bit for bit, that
partial upsample must compute every pixel exactly as ``F.interpolate`` does; it reproduces the
CPU kernel's arithmetic (source index and weights in float32, fused multiply-adds, rows then
columns), and the first use of each (low-res size, frame size) checks this against
``F.interpolate`` on random logits. Where the check fails (another CPU kernel), where the frame is
smaller than the low-res grid, and on GPUs (where N x H x W work costs microseconds), the full
upsample on the device decides instead. Either way one H x W image is what the caller copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .postprocess import keep_highest_object


@dataclass
class LabelImage:
    """Pixel ownership of one frame.

    labels: H x W int32 object ids (0 = background) on the logits' device. regions: per object id
    a box (y0, y1, x0, x1), end exclusive, holding every pixel it owns (None when the full path
    decided: boxes unknown, use the whole image). lean: whether the lean path decided.
    """

    labels: torch.Tensor
    regions: dict[int, tuple[int, int, int, int]] | None
    lean: bool


def label_image(
    low_res: torch.Tensor,
    object_scores: torch.Tensor,
    obj_ids: list[int],
    size: tuple[int, int],
    non_overlap: bool = False,
    lean: bool | None = None,
) -> LabelImage:
    """Owner of every pixel of an ``H x W`` frame from ``N x 1 x h x w`` low-res logits and ``N`` scores.

    ``lean``: None chooses (lean on the CPU where it is exact), False forces the full upsample,
    True asks for the lean path (still full where it would not be exact).
    """
    h_out, w_out = size
    n = low_res.shape[0]
    device = low_res.device
    if n == 0:
        return LabelImage(torch.zeros(size, dtype=torch.int32, device=device), {}, True)
    if lean is None:
        lean = device.type == "cpu"
    if lean and device.type == "cpu" and _lean_is_exact(low_res.shape[-2], low_res.shape[-1], h_out, w_out):
        return _lean_label_image(low_res, object_scores, obj_ids, size, non_overlap)
    return full_label_image(low_res, object_scores, obj_ids, size, non_overlap)


def full_label_image(
    low_res: torch.Tensor,
    object_scores: torch.Tensor,
    obj_ids: list[int],
    size: tuple[int, int],
    non_overlap: bool = False,
) -> LabelImage:
    """The reference decision: every object upsampled to ``H x W`` on its device (N x H x W work)."""
    logits = F.interpolate(low_res.float(), size=size, mode="bilinear", align_corners=False)
    if non_overlap:
        logits = keep_highest_object(logits)
    logits = logits[:, 0]
    present = (logits > 0) & (object_scores.reshape(-1, 1, 1) > 0)
    ranked = logits.masked_fill(~present, float("-inf"))
    ids = torch.as_tensor(list(obj_ids), dtype=torch.int32, device=logits.device)
    zero = torch.zeros((), dtype=torch.int32, device=logits.device)
    return LabelImage(torch.where(present.any(0), ids[ranked.argmax(0)], zero), None, False)


# ------------------------------------------------------------------------------------ lean path
@dataclass(frozen=True)
class _Axis:
    """The bilinear kernel's per-output-index source cells and weights along one axis (float32)."""

    i0: np.ndarray  # int64, first source cell
    i1: np.ndarray  # int64, second source cell (i0 + 1, or i0 at the last cell)
    w0: np.ndarray  # float32 weight of i0
    w1: np.ndarray  # float32 weight of i1


@lru_cache(maxsize=64)
def _axis(in_size: int, out_size: int) -> _Axis:
    # float32 ratio; source index = ratio * (d + 0.5) - 0.5 as one fused multiply-add (the float64
    # product of two float32 values is exact, so one rounding to float32 is the fused result)
    ratio = np.float32(np.float32(in_size) / np.float32(out_size))
    d = np.arange(out_size, dtype=np.float32) + np.float32(0.5)
    src = (np.float64(ratio) * d.astype(np.float64) - 0.5).astype(np.float32)
    src = np.maximum(src, np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    w1 = np.clip(src - i0.astype(np.float32), np.float32(0), np.float32(1)).astype(np.float32)
    w0 = (np.float32(1) - w1).astype(np.float32)
    return _Axis(i0, i1, w0, w1)


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """float32 ``a * b + c`` rounded once (float64 holds the product exactly)."""
    return (a.double() * b.double() + c.double()).float()


def _upsample_region(low: torch.Tensor, rows: _Axis, cols: _Axis, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    """Pixels ``[y0:y1, x0:x1]`` of the upsampled ``h x w`` logits ``low``, as the CPU kernel computes them."""
    device = low.device
    r0, r1 = rows.i0[y0:y1], rows.i1[y0:y1]
    c0, c1 = cols.i0[x0:x1], cols.i1[x0:x1]
    lo, hi = int(r0.min()), int(r1.max()) + 1
    band = low[lo:hi]  # the source rows these pixels read
    wc0 = torch.from_numpy(cols.w0[x0:x1]).to(device)
    wc1 = torch.from_numpy(cols.w1[x0:x1]).to(device)
    # along the columns first, once per source row: t = fma(p0, w0, p1 * w1)
    t = _fma(band[:, torch.from_numpy(c0).to(device)], wc0, band[:, torch.from_numpy(c1).to(device)] * wc1)
    t0 = t[torch.from_numpy(r0 - lo).to(device)]
    t1 = t[torch.from_numpy(r1 - lo).to(device)]
    wr0 = torch.from_numpy(rows.w0[y0:y1]).to(device)[:, None]
    wr1 = torch.from_numpy(rows.w1[y0:y1]).to(device)[:, None]
    return _fma(t0, wr0, t1 * wr1)


def upsample_like_interpolate(low: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``h x w`` -> ``H x W`` by the lean path's arithmetic, all pixels (used to check it)."""
    rows, cols = _axis(low.shape[-2], size[0]), _axis(low.shape[-1], size[1])
    return _upsample_region(low.float(), rows, cols, 0, size[0], 0, size[1])


@lru_cache(maxsize=64)
def _lean_is_exact(h: int, w: int, h_out: int, w_out: int) -> bool:
    """Whether the lean arithmetic equals the CPU ``F.interpolate`` for this geometry (checked once)."""
    if h_out < h or w_out < w:
        return False  # frames smaller than the low-res grid: small, and another kernel regime
    probe = torch.randn(2, 1, h, w, generator=torch.Generator().manual_seed(h * 7919 + w_out)) * 8.0
    probe[:, :, ::5, ::3] = 0.0  # exact zeros, as at the edge of a mask
    reference = F.interpolate(probe, size=(h_out, w_out), mode="bilinear", align_corners=False)
    return all(torch.equal(upsample_like_interpolate(probe[k, 0], (h_out, w_out)), reference[k, 0]) for k in range(2))


def _candidate_boxes(low: torch.Tensor, h_out: int, w_out: int) -> list[tuple[int, int, int, int] | None]:
    """Per object, the pixel box outside which none of the 4 source cells is positive (None: nowhere)."""
    positive = low[:, 0] > 0
    rows_any = positive.any(2).cpu().numpy()  # N x h
    cols_any = positive.any(1).cpu().numpy()  # N x w
    rows, cols = _axis(low.shape[-2], h_out), _axis(low.shape[-1], w_out)
    boxes: list[tuple[int, int, int, int] | None] = []
    for r_any, c_any in zip(rows_any, cols_any):
        if not r_any.any():
            boxes.append(None)
            continue
        r = np.flatnonzero(r_any)
        c = np.flatnonzero(c_any)
        # i0 and i1 are non-decreasing: pixels whose cells meet [first, last] form one range
        y0 = int(np.searchsorted(rows.i1, r[0], side="left"))
        y1 = int(np.searchsorted(rows.i0, r[-1], side="right"))
        x0 = int(np.searchsorted(cols.i1, c[0], side="left"))
        x1 = int(np.searchsorted(cols.i0, c[-1], side="right"))
        boxes.append((y0, y1, x0, x1) if y1 > y0 and x1 > x0 else None)
    return boxes


def _lean_label_image(
    low_res: torch.Tensor,
    object_scores: torch.Tensor,
    obj_ids: list[int],
    size: tuple[int, int],
    non_overlap: bool,
) -> LabelImage:
    h_out, w_out = size
    low = low_res.float()
    device = low.device
    present = (object_scores.reshape(-1) > 0).tolist()
    boxes = _candidate_boxes(low, h_out, w_out)
    rows, cols = _axis(low.shape[-2], h_out), _axis(low.shape[-1], w_out)
    best = torch.full(size, float("-inf"), device=device)
    owner = torch.zeros(size, dtype=torch.int32, device=device)  # the winner's id (0: an absent winner)
    regions: dict[int, tuple[int, int, int, int]] = {}
    for k, box in enumerate(boxes):
        # absent objects own nothing; without the non-overlap rule they do not compete either
        if box is None or not (present[k] or non_overlap):
            continue
        y0, y1, x0, x1 = box
        values = _upsample_region(low[k, 0], rows, cols, y0, y1, x0, x1)
        held = best[y0:y1, x0:x1]
        wins = (values > 0) & (values > held)  # strict: the first object keeps a tie, as argmax
        held.copy_(torch.where(wins, values, held))
        # an absent winner (non-overlap rule) still beats the objects after it, but owns nothing
        label = int(obj_ids[k]) if present[k] else 0
        owned = owner[y0:y1, x0:x1]
        owned.copy_(torch.where(wins, label, owned))
        if present[k]:
            regions[int(obj_ids[k])] = box
    return LabelImage(owner, regions, True)
