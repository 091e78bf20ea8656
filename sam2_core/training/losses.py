# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM 2's training losses: focal + dice on the best candidate mask, IoU regression, object-score BCE."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..modeling.sam2 import HeadOutput


@dataclass(frozen=True)
class LossWeights:
    """The SAM 2 paper's weights (focal 20 : dice 1 : IoU 1 : object score 1)."""

    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0


def sigmoid_focal(logits: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Focal loss averaged over pixels: ``B x M x H x W`` logits, ``B x 1 x H x W`` target -> ``B x M``."""
    target = target.expand_as(logits)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(2).mean(-1)


def dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft dice loss: ``B x M x H x W`` logits, ``B x 1 x H x W`` target -> ``B x M``."""
    p = torch.sigmoid(logits).flatten(2)
    t = target.expand_as(logits).flatten(2)
    return 1 - (2 * (p * t).sum(-1) + 1) / (p.sum(-1) + t.sum(-1) + 1)


def actual_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of the binarized candidates with the target: ``B x M`` (no gradient; the IoU head's label)."""
    pred = (logits > 0).flatten(2)
    t = target.expand_as(logits).flatten(2) > 0.5
    inter = (pred & t).sum(-1).float()
    union = (pred | t).sum(-1).float()
    return inter / union.clamp(min=1.0)


def head_losses(out: HeadOutput, target: torch.Tensor, weights: LossWeights) -> dict[str, torch.Tensor]:
    """Losses of one head output for B objects, summed over objects (divide by the object count later).

    target: B x S x S bool ground truth at the model's input size. Mask and IoU losses count only
    for objects present in the target (as in SAM 2); an absent object trains the object score alone.
    The mask losses use the candidate with the lowest focal + dice loss (the others still get IoU
    supervision), so the multimask head can specialize instead of averaging ambiguous answers.
    With several candidates the one the IoU head selects (what the tracker outputs) is trained too:
    best-of-M alone has a prompt-blind optimum on scenes with few objects (each candidate settles on
    one salient object whatever the click, and some candidate always fits), which this term removes.
    """
    logits = out.high_res_multimasks.float()
    t = target[:, None].to(logits.dtype)
    present = target.flatten(1).any(-1).to(logits.dtype)
    focal = sigmoid_focal(logits, t, weights.focal_alpha, weights.focal_gamma)
    dc = dice(logits, t)
    best = torch.argmin(weights.focal * focal + weights.dice * dc, dim=-1, keepdim=True)
    focal_m = focal.gather(1, best)[:, 0]
    dice_m = dc.gather(1, best)[:, 0]
    if logits.shape[1] > 1:
        chosen = torch.argmax(out.ious.detach(), dim=-1, keepdim=True)
        focal_m = focal_m + focal.gather(1, chosen)[:, 0]
        dice_m = dice_m + dc.gather(1, chosen)[:, 0]
    iou = F.l1_loss(out.ious.float(), actual_iou(logits.detach(), t), reduction="none").mean(-1)
    score = F.binary_cross_entropy_with_logits(out.object_score_logits.float()[:, 0], present, reduction="none")
    return {
        "focal": (focal_m * present).sum(),
        "dice": (dice_m * present).sum(),
        "iou": (iou * present).sum(),
        "object_score": score.sum(),
    }


def total_loss(parts: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    return (
        weights.focal * parts["focal"]
        + weights.dice * parts["dice"]
        + weights.iou * parts["iou"]
        + weights.object_score * parts["object_score"]
    )
