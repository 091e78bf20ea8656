# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Mask post-processing of the tracker: small-hole filling and the non-overlap constraint, in plain torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Logit given to the pixels of a filled hole (sigmoid(0.1) ~ 0.52: just foreground), as the reference.
HOLE_FILL_LOGIT = 0.1
# Upper bound for the logits of an object where another object scores higher (sigmoid(-10) ~ 4.5e-5).
SUPPRESSED_LOGIT = -10.0


def _min_pool3x3(labels: torch.Tensor) -> torch.Tensor:
    # max_pool2d pads with -inf, so the negated pool pads with +inf: the border never wins a minimum
    return -F.max_pool2d(-labels, kernel_size=3, stride=1, padding=1)


def fill_holes(mask_logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Set background regions of at most ``max_area`` pixels to a small positive logit.

    mask_logits: ``N x 1 x h x w`` (any leading batch shape of rank 4). A "hole" is an
    8-connected component of background pixels (logit <= 0) with area <= ``max_area``, anywhere
    in the image (components touching the border included), exactly the rule of the reference's
    CUDA connected-components extension. Returns a new tensor; ``max_area <= 0`` returns the input.
    """
    if max_area <= 0:
        return mask_logits
    return torch.where(small_regions(mask_logits <= 0, max_area), HOLE_FILL_LOGIT, mask_logits)


def small_regions(region: torch.Tensor, max_area: int) -> torch.Tensor:
    """The pixels of ``region`` that lie in an 8-connected component of at most ``max_area`` pixels.

    region: ``N x C x h x w`` bool. Returns a bool tensor of the same shape (all False when
    ``max_area <= 0``). This is what the reference's CUDA connected-components extension is used
    for (a component's area at each of its pixels, compared with a bound), on any device.

    Implemented with pooling so it runs on any device without a host sync: every region pixel
    starts with its own index as label and takes the minimum label of its 8 region neighbours,
    ``max_area`` times. A component of at most ``max_area`` pixels has a geodesic diameter below
    ``max_area``, so it ends with one label shared by all its pixels and by no other pixel. A label
    is accepted as small when (a) at most ``max_area`` pixels carry it and (b) none of them has a
    region neighbour with another label: a label set closed under adjacency is a whole
    component, so (a) and (b) hold exactly for the small components.
    """
    if max_area <= 0:
        return torch.zeros_like(region, dtype=torch.bool)
    n, c, h, w = region.shape
    device = region.device
    hw = h * w
    # float32 holds every pixel index exactly (h * w < 2**24 for any sensible mask size)
    sentinel = float(hw)
    index = torch.arange(hw, device=device, dtype=torch.float32).view(1, 1, h, w).expand(n, c, h, w)
    labels = torch.where(region, index, sentinel)
    for _ in range(max_area):
        labels = torch.where(region, torch.minimum(labels, _min_pool3x3(labels)), sentinel)
    # a region pixel whose region neighbours disagree with its label lies in a component
    # that has not converged, i.e. one larger than max_area
    lowest = _min_pool3x3(labels)
    highest = F.max_pool2d(torch.where(region, labels, -1.0), kernel_size=3, stride=1, padding=1)
    disagree = region & ((lowest < labels) | (highest > labels))

    # per-label statistics; every pixel outside the region goes to one spare bin at the end
    planes = n * c
    plane_offset = (torch.arange(planes, device=device) * hw).view(n, c, 1, 1)
    key = torch.where(region, labels.long() + plane_offset, planes * hw).flatten()
    ones = torch.ones_like(key, dtype=torch.float32)
    area = torch.zeros(planes * hw + 1, device=device).scatter_add_(0, key, ones)
    open_edges = torch.zeros(planes * hw + 1, device=device).scatter_add_(0, key, disagree.flatten().float())
    return region & (area[key] <= max_area).view(n, c, h, w) & (open_edges[key] == 0).view(n, c, h, w)


def keep_highest_object(mask_logits: torch.Tensor) -> torch.Tensor:
    """Non-overlap constraint over objects ``N x 1 x H x W``: where an object is not the highest
    scoring one, its logit is capped at -10 (the reference's ``_apply_non_overlapping_constraints``)."""
    n = mask_logits.shape[0]
    if n <= 1:
        return mask_logits
    best = torch.argmax(mask_logits, dim=0, keepdim=True)
    rows = torch.arange(n, device=mask_logits.device).view(n, 1, 1, 1)
    return torch.where(best == rows, mask_logits, torch.clamp(mask_logits, max=SUPPRESSED_LOGIT))
