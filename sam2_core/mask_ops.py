# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Mask and box helpers of the automatic mask generator in plain torch: grids, crops, boxes, NMS, RLE, stability.

Boxes are ``x_min, y_min, x_max, y_max`` with inclusive pixel coordinates when they come from
masks (a one-pixel mask at (3, 4) has the box [3, 4, 3, 4]), as in SAM's generator. Run-length
encodings are COCO's uncompressed form: ``{"size": [H, W], "counts": [...]}``, runs over the
mask in column-major order, starting with a run of zeros (0 when the first pixel is set).
No torchvision: the box NMS is written here with the semantics of ``torchvision.ops.batched_nms``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

# torchvision's batched_nms switches to per-category NMS followed by a sort of the kept scores
# above this many box coordinates (4 per box); with one category that only reorders ties.
_VANILLA_NMS_NUMEL = {"cpu": 4000}
_VANILLA_NMS_NUMEL_OTHER = 100_000
_NMS_ROW_BLOCK = 1024


# ------------------------------------------------------------------ point grids and crops
def point_grid(points_per_side: int) -> np.ndarray:
    """``n*n x 2`` float64 (x, y) in [0, 1]: cell centres of an n x n grid, row by row (x fastest)."""
    n = int(points_per_side)
    centres = np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n) if n > 0 else np.zeros(0)
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def layer_point_grids(points_per_side: int, crop_n_layers: int, downscale_factor: int) -> list[np.ndarray]:
    """One grid per crop layer: layer i has ``int(points_per_side / downscale_factor**i)`` points per side."""
    return [point_grid(int(points_per_side / downscale_factor**i)) for i in range(crop_n_layers + 1)]


def crop_boxes(
    image_hw: tuple[int, int], crop_n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """The crops the generator looks at: (boxes ``[x0, y0, x1, y1]`` with x1/y1 exclusive, their layers).

    Layer 0 is the whole image; layer i >= 1 tiles it with 2**i x 2**i overlapping crops (the
    overlap is ``overlap_ratio`` of the shorter side, halved at each layer), listed column by
    column (x outer, y inner). Empty tiles (images a pixel or two across) are left out.
    """
    height, width = image_hw
    boxes, layers = [[0, 0, width, height]], [0]
    short = min(height, width)
    for layer in range(1, crop_n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * short * (2 / per_side))
        crop_w = int(math.ceil((overlap * (per_side - 1) + width) / per_side))
        crop_h = int(math.ceil((overlap * (per_side - 1) + height) / per_side))
        x_starts = [int((crop_w - overlap) * i) for i in range(per_side)]
        y_starts = [int((crop_h - overlap) * i) for i in range(per_side)]
        for x0 in x_starts:
            for y0 in y_starts:
                x1, y1 = min(x0 + crop_w, width), min(y0 + crop_h, height)
                if x1 > x0 and y1 > y0:  # images a pixel or two across give empty tiles: left out
                    boxes.append([x0, y0, x1, y1])
                    layers.append(layer)
    return boxes, layers


# ------------------------------------------------------------------ boxes
def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """``B x H x W`` bool -> ``B x 4`` int64 inclusive boxes (x_min, y_min, x_max, y_max); zeros for empty masks."""
    b, h, w = masks.shape
    if b == 0 or h == 0 or w == 0:
        return torch.zeros(b, 4, dtype=torch.int64, device=masks.device)
    rows = masks.any(dim=2).to(torch.uint8)  # B x H
    cols = masks.any(dim=1).to(torch.uint8)  # B x W
    # argmax returns the first maximal index, so the flipped argmax gives the last set row/column
    top, left = rows.argmax(dim=1), cols.argmax(dim=1)
    bottom, right = h - 1 - rows.flip(1).argmax(dim=1), w - 1 - cols.flip(1).argmax(dim=1)
    boxes = torch.stack([left, top, right, bottom], dim=1)
    return boxes * rows.any(dim=1, keepdim=True)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """``N x 4`` -> ``N``: (x_max - x_min) * (y_max - y_min), in the boxes' dtype."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_xyxy_to_xywh(box: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """``... x 4`` (x_min, y_min, x_max, y_max) -> (x_min, y_min, x_max - x_min, y_max - y_min)."""
    out = box.clone() if isinstance(box, torch.Tensor) else np.array(box, copy=True)
    out[..., 2] = box[..., 2] - box[..., 0]
    out[..., 3] = box[..., 3] - box[..., 1]
    return out


def box_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes, highest score first.

    boxes: ``N x 4`` float (x_min, y_min, x_max, y_max); scores: ``N`` float. A box is dropped
    when its IoU with a kept, higher-ranked box is above ``iou_threshold``. The semantics of
    ``torchvision.ops.batched_nms`` with a single category, ties included: boxes are ranked with
    ``torch.sort(scores, descending=True)``, as torchvision's kernels rank them, and above
    torchvision's size switch (more than 4,000 coordinates on the CPU, 100,000 elsewhere) the kept
    indices are re-ranked by ``torch.sort`` of their scores, as torchvision's per-category path does.

    The pairwise IoUs are computed on the boxes' device in blocks of rows; the greedy pass reads
    them once on the host.
    """
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True).indices
    ranked = boxes[order]
    x0, y0, x1, y1 = ranked.unbind(dim=1)
    area = (x1 - x0) * (y1 - y0)
    overlaps = torch.empty(n, n, dtype=torch.bool)
    for start in range(0, n, _NMS_ROW_BLOCK):
        rows = slice(start, min(start + _NMS_ROW_BLOCK, n))
        w = (torch.minimum(x1[rows, None], x1[None]) - torch.maximum(x0[rows, None], x0[None])).clamp(min=0)
        h = (torch.minimum(y1[rows, None], y1[None]) - torch.maximum(y0[rows, None], y0[None])).clamp(min=0)
        inter = w * h
        overlaps[rows] = (inter / (area[rows, None] + area[None] - inter) > iou_threshold).cpu()
    over = overlaps.numpy()
    removed = np.zeros(n, dtype=bool)
    kept = []
    for i in range(n):
        if removed[i]:
            continue
        kept.append(i)
        removed |= over[i]
    keep = order[torch.as_tensor(kept, dtype=torch.int64, device=order.device)]
    limit = _VANILLA_NMS_NUMEL.get(boxes.device.type, _VANILLA_NMS_NUMEL_OTHER)
    if boxes.numel() > limit:
        keep = torch.sort(keep).values
        keep = keep[torch.sort(scores[keep], descending=True).indices]
    return keep


def uncrop_boxes(boxes: torch.Tensor, crop_box: list[int]) -> torch.Tensor:
    """Boxes ``N x 4`` in crop coordinates -> image coordinates."""
    x0, y0 = crop_box[0], crop_box[1]
    return boxes + torch.tensor([[x0, y0, x0, y0]], device=boxes.device)


def uncrop_points(points: torch.Tensor, crop_box: list[int]) -> torch.Tensor:
    """Points ``N x 2`` (x, y) in crop coordinates -> image coordinates."""
    return points + torch.tensor([[crop_box[0], crop_box[1]]], device=points.device)


def uncrop_masks(masks: torch.Tensor, crop_box: list[int], height: int, width: int) -> torch.Tensor:
    """Masks ``B x h x w`` of a crop -> ``B x height x width`` (zeros outside the crop)."""
    x0, y0, x1, y1 = crop_box
    if (x0, y0, x1, y1) == (0, 0, width, height):
        return masks
    return torch.nn.functional.pad(masks, (x0, width - x1, y0, height - y1), value=0)


def near_crop_edge(boxes: torch.Tensor, crop_box: list[int], image_box: list[int], atol: float = 20.0) -> torch.Tensor:
    """``N`` bool: the box (crop coordinates) comes within ``atol`` px of a crop border that is not an image border."""
    crop = torch.as_tensor(crop_box, dtype=torch.float32, device=boxes.device)
    image = torch.as_tensor(image_box, dtype=torch.float32, device=boxes.device)
    placed = uncrop_boxes(boxes, crop_box).float()
    at_crop = (placed - crop).abs() <= atol
    at_image = (placed - image).abs() <= atol
    return (at_crop & ~at_image).any(dim=1)


# ------------------------------------------------------------------ mask quality
def stability_score(mask_logits: torch.Tensor, mask_threshold: float, offset: float) -> torch.Tensor:
    """IoU of the masks thresholded at ``mask_threshold + offset`` and ``- offset``: ``B x H x W`` -> ``B``.

    The first mask lies inside the second, so the IoU is a ratio of pixel counts (NaN for a mask
    that is empty even at the low threshold, as in SAM's generator).
    """
    inner = (mask_logits > mask_threshold + offset).sum(dim=(-2, -1), dtype=torch.int32)
    outer = (mask_logits > mask_threshold - offset).sum(dim=(-2, -1), dtype=torch.int32)
    return inner / outer


# ------------------------------------------------------------------ run-length encoding
def masks_to_rle(masks: torch.Tensor) -> list[dict[str, Any]]:
    """``B x H x W`` bool (any device) -> B uncompressed RLEs (COCO's column-major run lengths).

    Computed on the masks' device; only the positions where the value changes are copied to the host.
    """
    b, h, w = masks.shape
    flat = masks.transpose(1, 2).reshape(b, h * w)
    if b == 0:
        return []
    rows, cols = (flat[:, 1:] != flat[:, :-1]).nonzero(as_tuple=True)
    rows, ends = rows.cpu().numpy(), cols.cpu().numpy() + 1  # a run ends after each change
    starts_set = flat[:, 0].cpu().numpy()
    splits = np.searchsorted(rows, np.arange(b + 1))
    out = []
    for i in range(b):
        edges = np.concatenate([[0], ends[splits[i] : splits[i + 1]], [h * w]])
        runs = np.diff(edges).tolist()
        out.append({"size": [h, w], "counts": ([0] if starts_set[i] else []) + runs})
    return out


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """An uncompressed RLE -> ``H x W`` bool (C order)."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    values = np.arange(len(counts)) % 2 == 1  # runs alternate zeros, ones, zeros, ...
    flat = np.repeat(values, counts)
    if flat.size != h * w:
        raise ValueError(f"RLE counts cover {flat.size} pixels, its size {h} x {w} has {h * w}")
    return np.ascontiguousarray(flat.reshape(w, h).T)


def rle_area(rle: dict[str, Any]) -> int:
    """Pixels set in an uncompressed RLE."""
    return int(sum(rle["counts"][1::2]))


def coco_rle(rle: dict[str, Any]) -> dict[str, Any]:
    """An uncompressed RLE -> COCO's compressed RLE (``counts`` as a str, JSON-ready). Needs pycocotools."""
    from pycocotools import mask as mask_utils

    h, w = rle["size"]
    encoded = mask_utils.frPyObjects(rle, h, w)
    encoded["counts"] = encoded["counts"].decode("utf-8")
    return encoded
