# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM 2's training forward pass on a batch of clips: prompt on frame 0, then track through memory.

The memory layout is the tracker's (``MemoryBank``): the prompted frame as the conditioning
memory (temporal slot 0), the up to ``num_maskmem - 1`` frames before the current one by their
frame distance, and object pointers of the prompted frame and of the last
``max_obj_ptrs_in_encoder - 1`` frames with their signed frame offsets. Nothing is detached
between frames, so the losses of later frames train the memory encoder and memory attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..modeling.sam2 import HeadOutput, SAM2Model
from ..preprocess import resize_and_normalize
from .losses import LossWeights, head_losses, total_loss
from .prompting import correction_clicks, noisy_box, random_click

# the tracker clamps previous logits it feeds back with correction clicks the same way
PREV_LOGITS_CLAMP = 32.0


@dataclass(frozen=True)
class PromptMix:
    """How frame 0 is prompted (one kind per batch) and how many correction rounds follow."""

    p_click: float = 0.6
    p_box: float = 0.25  # the rest: the ground-truth mask itself
    max_corrections: int = 2  # 0..max correction clicks after a click or box prompt
    p_corrections: float = 0.4  # probability of any correction round in a batch


DEFAULT_PROMPTS = PromptMix()
DEFAULT_WEIGHTS = LossWeights()


@dataclass
class ClipBatch:
    """B clips flattened into N object rows (several objects of one clip share its frames)."""

    images: torch.Tensor  # C x T x 3 x S x S float in [0, 1], C clips
    targets: torch.Tensor  # N x T x S x S bool
    clip_of_row: torch.Tensor  # N long, the clip each object row belongs to
    offsets: np.ndarray  # T int, frame offsets from the prompted frame (shared by all clips)

    def repeat_objects(self, r: int) -> ClipBatch:
        """Each object row ``r`` times (rows of one object next to each other): every copy gets its own
        prompt, so one image encoding trains the prompt-conditioned heads ``r`` times."""
        if r == 1:
            return self
        return ClipBatch(
            self.images,
            self.targets.repeat_interleave(r, 0),
            self.clip_of_row.repeat_interleave(r, 0),
            self.offsets,
        )


def make_batch(samples: list, device: torch.device | str = "cpu") -> ClipBatch:
    """Stack ``ClipSample``s (same T and size; ``frame_indices`` equal up to a shift) into a ClipBatch."""
    images = torch.stack([torch.from_numpy(s.frames) for s in samples]).to(device)
    images = images.permute(0, 1, 4, 2, 3).float().div_(255.0)
    targets, clip_of_row = [], []
    for c, s in enumerate(samples):
        for k in range(s.masks.shape[1]):
            targets.append(torch.from_numpy(s.masks[:, k]))
            clip_of_row.append(c)
    offsets = samples[0].frame_indices - samples[0].frame_indices[0]
    return ClipBatch(
        images,
        torch.stack(targets).to(device),
        torch.tensor(clip_of_row, dtype=torch.long, device=device),
        offsets,
    )


def _first_frame_prompt(rng: np.random.Generator, target: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (N x P x 2 model pixels) and labels (N x P) of a click or box prompt on N masks."""
    masks = target.cpu().numpy()
    if kind == "click":
        pts = [[random_click(rng, m)] for m in masks]
        labels = [[1] for _ in masks]
    else:
        pts, labels = [], []
        for m in masks:
            x0, y0, x1, y1 = noisy_box(rng, m)
            pts.append([(x0, y0), (x1, y1)])
            labels.append([2, 3])
    return (
        torch.tensor(pts, dtype=torch.float32, device=target.device),
        torch.tensor(labels, dtype=torch.int32, device=target.device),
    )


def clip_loss(
    model: SAM2Model,
    batch: ClipBatch,
    rng: np.random.Generator,
    prompts: PromptMix = DEFAULT_PROMPTS,
    weights: LossWeights = DEFAULT_WEIGHTS,
    outputs: list[HeadOutput] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Run the clips through the model as the tracker would and return (loss, logged statistics).

    The loss is the sum over frames (and correction rounds) of the per-object losses, divided by
    the number of object rows. ``outputs``, when given, receives every head output in order.
    """
    cfg = model.config
    t_n = batch.images.shape[1]
    n = batch.targets.shape[0]
    size = model.image_size
    images = resize_and_normalize(batch.images.flatten(0, 1), size).to(model.dtype)
    feats = model.encode_image(images)  # (C * T) rows, clip-major
    rows = batch.clip_of_row
    parts_sum: dict[str, torch.Tensor] = {}
    stats: dict[str, float] = {}

    def add(out: HeadOutput, t: int) -> None:
        if outputs is not None:
            outputs.append(out)
        for k, v in head_losses(out, batch.targets[:, t], weights).items():
            parts_sum[k] = parts_sum.get(k, 0.0) + v

    # ---- frame 0: the prompt, then correction rounds (SAM's interactive training)
    f0 = feats.select(rows * t_n)
    target0 = batch.targets[:, 0]
    u = rng.random()
    if t_n == 1:  # image-level training: a mask prompt alone would train nothing
        total = prompts.p_click + prompts.p_box
        kind = "click" if total == 0 or u * total < prompts.p_click else "box"
    else:
        kind = "click" if u < prompts.p_click else "box" if u < prompts.p_click + prompts.p_box else "mask"
    if kind == "mask":
        out = model.mask_as_output(f0.features, f0.high_res, target0[:, None].to(model.dtype))
        add(out, 0)
    else:
        coords, labels = _first_frame_prompt(rng, target0, kind)
        conditioned = model.add_no_memory(f0.features)
        out = model.sam_heads(
            conditioned,
            f0.high_res,
            coords,
            labels,
            multimask_output=model.use_multimask(True, labels.shape[1]),
        )
        add(out, 0)
        rounds = 0
        if rng.random() < prompts.p_corrections:
            rounds = int(rng.integers(1, prompts.max_corrections + 1))
        for _ in range(rounds):
            with torch.no_grad():
                new_c, new_l = correction_clicks(rng, out.high_res_masks[:, 0] > 0, target0)
            coords, labels = torch.cat([coords, new_c], 1), torch.cat([labels, new_l], 1)
            prev = torch.clamp(out.low_res_masks.detach(), -PREV_LOGITS_CLAMP, PREV_LOGITS_CLAMP)
            out = model.sam_heads(conditioned, f0.high_res, coords, labels, mask_inputs=prev, multimask_output=False)
            add(out, 0)
    stats["prompt_iou0"] = _mean_iou(out.high_res_masks[:, 0], target0)

    if t_n == 1:  # image-level training (SAM's stage): no memory to build
        return _per_object(parts_sum, stats, [], n, weights)
    mem, mem_pos = model.encode_memory(f0.features, out.high_res_masks, out.object_score_logits, False)
    hw = mem.shape[-2] * mem.shape[-1]
    pos_tokens = mem_pos[0].flatten(1).t()  # hw x mem_dim, the same for every memory
    mems, ptrs = [mem], [out.obj_ptr]  # index = clip frame
    offsets = [int(o) for o in batch.offsets]
    num_recent = cfg.num_maskmem - 1
    max_ptrs = cfg.max_obj_ptrs_in_encoder
    ious = []

    # ---- frames 1..T-1: memory-conditioned tracking without prompts
    for t in range(1, t_n):
        ft = feats.select(rows * t_n + t)
        # (frame, t_pos): the conditioning frame, then recent frames oldest first
        frames = [(0, 0)] + [
            (g, cfg.num_maskmem - (offsets[t] - offsets[g]))
            for g in range(1, t)
            if 1 <= offsets[t] - offsets[g] <= num_recent
        ]
        memory = torch.cat([mems[g].flatten(2).permute(2, 0, 1) for g, _ in frames], 0)  # (F*hw) x N x D
        tpos = torch.stack([model.memory_time_encoding(tp).view(-1) for _, tp in frames])  # F x D
        pos = (pos_tokens[None] + tpos[:, None]).reshape(len(frames) * hw, 1, -1).expand(-1, n, -1)
        num_ptr_tokens = 0
        if cfg.use_obj_ptrs_in_encoder:
            ptr_frames = [0] + [g for g in range(t - 1, 0, -1) if offsets[t] - offsets[g] <= max_ptrs - 1]
            ptr = torch.stack([ptrs[g] for g in ptr_frames])  # P x N x C
            off = torch.tensor([offsets[t] - offsets[g] for g in ptr_frames], device=ptr.device)
            ptr_pos = model.pointer_time_encoding(off, max_ptrs)[:, None].expand(-1, n, -1)
            ptr_tok, ptr_pos = model.pointer_tokens(ptr, ptr_pos)
            num_ptr_tokens = ptr_tok.shape[0]
            memory = torch.cat([memory, ptr_tok], 0)
            pos = torch.cat([pos, ptr_pos], 0)
        conditioned = model.attend_to_memory(ft.features, ft.pos, memory, pos, num_ptr_tokens)
        out = model.sam_heads(conditioned, ft.high_res, multimask_output=model.use_multimask(False, 0))
        add(out, t)
        ious.append(_mean_iou(out.high_res_masks[:, 0], batch.targets[:, t]))
        if t < t_n - 1:
            m, _ = model.encode_memory(ft.features, out.high_res_masks, out.object_score_logits, False)
            mems.append(m)
            ptrs.append(out.obj_ptr)

    return _per_object(parts_sum, stats, ious, n, weights)


def _per_object(
    parts_sum: dict[str, torch.Tensor], stats: dict[str, float], ious: list[float], n: int, weights: LossWeights
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss and logged statistics divided by the ``n`` object rows."""
    stats.update({k: float(v.detach()) / n for k, v in parts_sum.items()})
    stats["track_iou"] = float(np.mean(ious)) if ious else float("nan")
    stats["objects"] = n
    return total_loss(parts_sum, weights) / n, stats


def _mean_iou(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Mean IoU over objects present in ``target`` (N x S x S) of ``logits > 0``; nan when none is."""
    with torch.no_grad():
        pred = logits > 0
        inter = (pred & target).flatten(1).sum(-1).float()
        union = (pred | target).flatten(1).sum(-1).float()
        present = target.flatten(1).any(-1)
        if not present.any():
            return float("nan")
        return float((inter / union.clamp(min=1))[present].mean())
