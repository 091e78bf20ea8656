# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tracker: streaming multi-object video segmentation with SAM 2, one bounded memory per object."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F

from .compiled_step import CompiledStep
from .labels import LabelImage, label_image
from .memory_bank import MEMORY_DTYPE, MemoryBank, to_device
from .modeling.sam2 import HeadOutput, ImageFeatures, SAM2Model
from .postprocess import fill_holes, keep_highest_object
from .preprocess import FrameUploader, check_frame, resize_and_normalize, upsample_logits
from .prompts import PromptTensors, validate_prompt

# Previous mask logits fed back with correction clicks are clamped, as the reference does
# ("to avoid rare numerical issues").
PREV_LOGITS_CLAMP = 32.0


@dataclass
class TrackResult:
    """Masks of all objects on one frame (N objects, frame of H x W pixels), on the model's device.

    The tracker decides masks at low resolution (``low_res_logits``, h x w = a quarter of the model's
    input size); the full-size ``mask_logits`` and ``masks`` are their bilinear upsample, computed on
    first access. ``label_image()`` gives one H x W image of owners without that N x H x W work.
    """

    frame_index: int  # 0 for the first frame given to ``track``
    obj_ids: list[int]  # insertion order
    low_res_logits: torch.Tensor  # N x 1 x h x w float32, after hole filling (a copy: later frames leave it)
    object_scores: torch.Tensor  # N float32 logits, > 0: the object is present
    frame_size: tuple[int, int]  # (H, W)
    non_overlap_masks: bool = False  # the tracker's setting: each pixel kept for the highest object only

    @cached_property
    def mask_logits(self) -> torch.Tensor:
        """N x H x W float32 logits (with ``non_overlap_masks``, capped at -10 where another object is higher)."""
        logits = upsample_logits(self.low_res_logits, self.frame_size)
        if self.non_overlap_masks:
            logits = keep_highest_object(logits)
        return logits[:, 0]

    @cached_property
    def masks(self) -> torch.Tensor:
        """N x H x W bool, ``mask_logits > 0``."""
        return self.mask_logits > 0

    def label_image(self) -> LabelImage:
        """Owner of every pixel (H x W ids, 0 = background), as ``sam2_ros.outputs.label_image`` decides
        it from ``masks``, ``mask_logits`` and ``object_scores`` (see ``sam2_core.labels``)."""
        cached = self.__dict__.get("_label_image")
        if cached is None:
            cached = label_image(
                self.low_res_logits, self.object_scores, self.obj_ids, self.frame_size, self.non_overlap_masks
            )
            self.__dict__["_label_image"] = cached
        return cached


class Tracker:
    """Segment and track objects in an endless stream of frames, with SAM 2's video semantics.

    ``track(frame)`` processes the next frame for all objects; ``add_prompt`` prompts one object
    on the latest frame. The results equal Meta's ``SAM2VideoPredictor`` (sam2 1.1.0, video
    builder settings) driven live: prompts on frame k, ``propagate_in_video`` from k + 1 to the
    next prompted frame, and so on, as long as no object has more than ``max_cond_frames``
    conditioning frames. A prompt on a new object makes the frame a conditioning frame (first
    click: best of three candidates; a mask is used as the output directly). A prompt on an
    object already tracked on this frame is a correction: the new points plus the previous mask
    logits, memory-conditioned; it replaces the frame's memory and is a conditioning frame only
    with ``corrections_as_cond=True`` (the reference's ``add_all_frames_to_correct_as_cond``).
    Each call's points replace earlier points on the same frame (the earlier clicks live on
    through the previous mask logits), as the reference's ``add_new_points_or_box`` with
    ``clear_old_points=True``. A prompted frame's memory is encoded when the next frame arrives
    (after the last prompt on it), from its binarized output, as ``propagate_in_video_preflight``.

    Each frame runs the image encoder once and every object through memory attention, heads
    and memory encoder in one batch (objects with fewer memories are padded and masked). State
    is bounded (see ``MemoryBank``): per object, its conditioning frames (at most
    ``max_cond_frames``; the first prompt is always kept, otherwise the oldest is evicted), the
    6 most recent memories and the pointers of the 15 most recent frames, plus the latest
    frame's features and outputs. Memories are stored in bfloat16, as the reference stores them.

    Prompts are in the latest frame's pixels; the frame size may change at any frame (masks
    come at the new size). Points and boxes outside the frame are used as given (scaled like
    points inside it, which the model extrapolates), as the reference does. Where the
    reference's ``add_new_*`` output shows another object's pre-correction mask (it looks
    outputs up by storage kind), this tracker shows that object's latest mask.

    ``compile=True`` runs the image encoder and the per-frame step of all objects through
    ``torch.compile`` with static shapes (``sam2_core.compiled_step``): the memory bank at full
    capacity, the objects padded to a bucket (1, 2, 4, 8, ..., ``max_objects``), CUDA graphs on
    GPUs. Each bucket compiles once, on the first frame tracked with that many objects (a warm-up
    runs them all: ``warmup_object_counts``), and never recompiles; results equal the eager path's
    up to float round-off. Any frame size works (preprocessing is eager), prompted frames run
    eagerly (their number of points varies), and a graph that cannot be compiled here runs eagerly
    with a warning (``compiled.stats``).
    """

    def __init__(
        self,
        model: SAM2Model,
        *,
        max_objects: int = 16,  # adding more objects raises ValueError
        fill_hole_area: int = 8,  # fill background holes up to this many low-res pixels (0: off)
        non_overlap_masks: bool = False,  # each pixel goes to the highest-scoring object in outputs
        max_cond_frames: int = 4,  # conditioning frames kept per object (the first prompt always stays)
        corrections_as_cond: bool = False,  # corrections on tracked frames become conditioning frames
        pad_to_capacity: bool = False,  # memory attention always at full capacity: one shape forever
        compile: bool = False,  # compiled, fixed-shape encoder and per-frame step (implies pad_to_capacity)
    ) -> None:
        if max_objects < 1:
            raise ValueError(f"max_objects must be at least 1, got {max_objects}")
        if fill_hole_area < 0:
            raise ValueError(f"fill_hole_area must be >= 0, got {fill_hole_area}")
        self.model = model
        self.max_objects = max_objects
        self.fill_hole_area = fill_hole_area
        self.non_overlap_masks = non_overlap_masks
        self.corrections_as_cond = corrections_as_cond
        self.bank = MemoryBank(model, max_cond_frames=max_cond_frames, pad_to_capacity=pad_to_capacity or compile)
        self.compiled = CompiledStep(model, max_objects=max_objects, fill_hole_area=fill_hole_area) if compile else None
        self._uploader = FrameUploader(model.device)
        self.reset()

    # ------------------------------------------------------------------ state
    @torch.inference_mode()
    def reset(self) -> None:
        """Forget all objects and frames; the next frame is frame 0."""
        model = self.model
        cfg = model.config
        low = cfg.image_size // 4
        self.bank.clear()
        self._frame_index = -1
        self._features: ImageFeatures | None = None  # the latest frame's backbone output
        self._frame_hw: tuple[int, int] | None = None
        self._obj_ids: list[int] = []
        # the latest frame's output per object (row i = object i), committed to the bank when
        # the next frame arrives
        self._low_res = torch.zeros(0, 1, low, low, device=model.device)  # after hole filling
        self._scores = torch.zeros(0, 1, device=model.device)
        self._ptr = torch.zeros(0, cfg.d_model, device=model.device, dtype=model.dtype)
        self._mem = torch.zeros(0, cfg.mem_dim, cfg.feat_size, cfg.feat_size, device=model.device, dtype=MEMORY_DTYPE)
        self._created: list[int] = []  # frame on which each object was added
        self._prompted: list[bool] = []  # latest output came from a prompt: memory to encode at commit
        self._as_cond: list[bool] = []  # latest frame becomes a conditioning frame at commit

    @property
    def frame_index(self) -> int:
        """Index of the latest frame (-1 before the first)."""
        return self._frame_index

    @property
    def obj_ids(self) -> list[int]:
        return list(self._obj_ids)

    @property
    def warmup_object_counts(self) -> list[int]:
        """Object counts whose first frames compile something: the buckets with ``compile=True``, else [1]."""
        return list(self.compiled.buckets) if self.compiled is not None else [1]

    @torch.inference_mode()
    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id``; KeyError if it is not tracked. Other objects are unaffected."""
        row = self._row(obj_id)
        if row is None:
            raise KeyError(f"cannot remove object {obj_id!r}: not tracked (tracked ids: {self._obj_ids})")
        keep = torch.tensor([i for i in range(len(self._obj_ids)) if i != row], dtype=torch.long)
        keep = keep.to(self.model.device)
        for name in ("_low_res", "_scores", "_ptr", "_mem"):
            setattr(self, name, getattr(self, name).index_select(0, keep))
        for table in (self._obj_ids, self._created, self._prompted, self._as_cond):
            del table[row]
        self.bank.remove_object(row)

    # ------------------------------------------------------------------ frames
    @torch.inference_mode()
    def track(self, frame: np.ndarray | torch.Tensor) -> TrackResult:
        """Process the next frame (``H x W x 3`` uint8 RGB, numpy or torch) for all objects."""
        h, w = check_frame(frame)
        model = self.model
        image = self._uploader.upload(frame)  # once to the device; resize and normalize run there
        image = resize_and_normalize(image, model.image_size).to(model.dtype)
        features = model.encode_image(image) if self.compiled is None else self.compiled.encode(image)
        self._commit()
        self._frame_index += 1
        self._features, self._frame_hw = features, (h, w)
        n = len(self._obj_ids)
        if n == 0:
            return self._result()
        try:
            self._track_objects(features, n)
        except BaseException:
            # e.g. CUDA out of memory: the rows still hold the previous frame's outputs, which are
            # already in the bank; with no features the next frame commits nothing, so this frame
            # is simply missing from every object's memory (as a dropped frame is)
            self._features = None
            raise
        return self._result()

    def _track_objects(self, features: ImageFeatures, n: int) -> None:
        """Memory attention + heads + memory encoder for all ``n`` objects on the current frame."""
        if self.compiled is not None:
            self._track_compiled(features, n)
            return
        model = self.model
        rows = list(range(n))
        feats = features.repeat(n)
        tokens = self.bank.gather(rows, self._frame_index)
        conditioned = model.attend_to_memory(
            feats.features, feats.pos, tokens.memory, tokens.pos, tokens.num_ptr_tokens, tokens.padding_mask
        )
        out = model.sam_heads(conditioned, feats.high_res, multimask_output=model.use_multimask(False, 0))
        mem, mem_pos = model.encode_memory(feats.features, out.high_res_masks, out.object_score_logits, False)
        self.bank.set_position_encoding(mem_pos[0])
        self._low_res = self._fill(out.low_res_masks)
        self._scores = out.object_score_logits.float()
        self._ptr = out.obj_ptr
        self._mem = mem.to(MEMORY_DTYPE)
        self._prompted = [False] * n
        self._as_cond = [False] * n

    def _track_compiled(self, features: ImageFeatures, n: int) -> None:
        """``_track_objects`` through the compiled step: ``n`` objects padded to their bucket."""
        compiled = self.compiled
        # padding rows repeat object 0 (finite, valid memories); their outputs are dropped
        rows = list(range(n)) + [0] * (compiled.bucket(n) - n)
        out = compiled.step(features, self.bank.gather(rows, self._frame_index), n)
        self.bank.set_position_encoding(out.mem_pos)
        self._low_res, self._scores, self._ptr, self._mem = out.low_res, out.scores, out.obj_ptr, out.mem
        self._prompted = [False] * n
        self._as_cond = [False] * n

    def _commit(self) -> None:
        """Move the latest frame's outputs into the bank (encoding prompted frames' memories first)."""
        if self._features is None or not self._obj_ids:
            return
        model = self.model
        frame = self._frame_index
        prompted = [r for r, p in enumerate(self._prompted) if p]
        if prompted:
            index = to_device(prompted, model.device)
            high_res = upsample_logits(self._low_res[index], (model.image_size, model.image_size))
            feats = self._features.repeat(len(prompted))
            # the user saw these masks: they enter memory binarized (is_mask_from_pts=True)
            mem, mem_pos = model.encode_memory(feats.features, high_res, self._scores[index], True)
            self._mem[index] = mem.to(MEMORY_DTYPE)
            self.bank.set_position_encoding(mem_pos[0])
        recent = []
        for r, as_cond in enumerate(self._as_cond):
            if as_cond:
                self.bank.write_cond(r, frame, self._mem[r], self._ptr[r])
            else:
                recent.append(r)
        if len(recent) == len(self._obj_ids):
            self.bank.write_recent(recent, frame, self._mem, self._ptr)
        elif recent:
            index = to_device(recent, model.device)
            self.bank.write_recent(recent, frame, self._mem[index], self._ptr[index])
        self._prompted = [False] * len(self._obj_ids)
        self._as_cond = [False] * len(self._obj_ids)

    # ------------------------------------------------------------------ prompts
    @torch.inference_mode()
    def add_prompt(
        self,
        obj_id: int,
        points: np.ndarray | torch.Tensor | list | None = None,
        labels: np.ndarray | torch.Tensor | list | None = None,
        box: np.ndarray | torch.Tensor | list | None = None,
        mask: np.ndarray | torch.Tensor | None = None,
    ) -> TrackResult:
        """Prompt ``obj_id`` on the latest frame; a new id adds an object, a known one refines it.

        points: P x 2 pixel (x, y) with labels P (1 foreground, 0 background); box: (x_min,
        y_min, x_max, y_max) pixels; mask: H x W bool of the frame's size (instead of points or
        box). Returns the latest frame's result for all objects with the prompt applied.
        """
        if self._frame_hw is None:
            raise ValueError("no frame yet: call track(frame) before add_prompt()")
        if self._features is None:
            raise ValueError(f"frame {self._frame_index} failed to track: call track() with a new frame first")
        obj_id = _check_obj_id(obj_id)
        prompt = validate_prompt(points, labels, box, mask, self._frame_hw)
        if prompt.mask is not None and prompt.num_points:
            raise ValueError("give either points/box or a mask in one prompt, not both")
        row = self._row(obj_id)
        if row is None and len(self._obj_ids) >= self.max_objects:
            raise ValueError(
                f"cannot add object {obj_id}: already tracking max_objects={self.max_objects} objects "
                f"{self._obj_ids}; remove one first"
            )
        # the object is new on this frame (no tracked output to correct): a SAM-like first prompt
        is_init = row is None or self._created[row] == self._frame_index
        out = self._run_prompt(prompt, row, is_init)
        low_res = self._fill(out.low_res_masks)

        # all computed: now change the state
        if row is None:
            row = self._add_row(obj_id)
        self._low_res[row] = low_res[0]
        self._scores[row] = out.object_score_logits[0].float()
        self._ptr[row] = out.obj_ptr[0]
        self._prompted[row] = True
        self._as_cond[row] = is_init or self.corrections_as_cond
        return self._result()

    def _run_prompt(self, prompt: PromptTensors, row: int | None, is_init: bool) -> HeadOutput:
        """The SAM heads on the latest frame for one object's prompt (batch of 1)."""
        model = self.model
        size = model.image_size
        feats = self._features
        assert feats is not None and self._frame_hw is not None
        h, w = self._frame_hw
        if prompt.mask is not None:
            m = prompt.mask.to(model.device, dtype=torch.float32)[None, None]
            if (h, w) != (size, size):
                m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
                m = (m >= 0.5).float()
            return model.mask_as_output(feats.features, feats.high_res, m.to(model.dtype))
        coords, labels = prompt.coords_with_box()
        # frame pixels -> model-input pixels, in the reference's order of operations
        coords = coords / torch.tensor([w, h], dtype=torch.float32) * size
        coords, labels = coords[None].to(model.device), labels[None].to(model.device)
        if is_init:
            conditioned = model.add_no_memory(feats.features)
        else:
            tokens = self.bank.gather([row], self._frame_index)
            conditioned = model.attend_to_memory(
                feats.features,
                feats.pos,
                tokens.memory,
                tokens.pos,
                tokens.num_ptr_tokens,
                tokens.padding_mask,
            )
        prev_logits = None
        if row is not None:
            prev_logits = torch.clamp(self._low_res[row : row + 1], -PREV_LOGITS_CLAMP, PREV_LOGITS_CLAMP)
            prev_logits = prev_logits.to(model.dtype)
        return model.sam_heads(
            conditioned,
            feats.high_res,
            coords,
            labels,
            mask_inputs=prev_logits,
            multimask_output=model.use_multimask(is_init, prompt.num_points),
        )

    def _add_row(self, obj_id: int) -> int:
        self._obj_ids.append(obj_id)
        self._created.append(self._frame_index)
        self._prompted.append(False)
        self._as_cond.append(False)
        for name in ("_low_res", "_scores", "_ptr", "_mem"):
            t = getattr(self, name)
            setattr(self, name, torch.cat([t, t.new_zeros(1, *t.shape[1:])]))
        self.bank.add_object()
        return len(self._obj_ids) - 1

    # ------------------------------------------------------------------ helpers
    def _row(self, obj_id) -> int | None:
        try:
            return self._obj_ids.index(obj_id)
        except ValueError:
            return None

    def _fill(self, low_res: torch.Tensor) -> torch.Tensor:
        return fill_holes(low_res.float(), self.fill_hole_area)

    def _result(self) -> TrackResult:
        assert self._frame_hw is not None
        return TrackResult(
            frame_index=self._frame_index,
            obj_ids=list(self._obj_ids),
            low_res_logits=self._low_res.clone(),  # the rows change in place with later prompts
            object_scores=self._scores[:, 0].clone(),
            frame_size=self._frame_hw,
            non_overlap_masks=self.non_overlap_masks,
        )


def _check_obj_id(obj_id) -> int:
    if isinstance(obj_id, bool) or not isinstance(obj_id, numbers.Integral):
        raise ValueError(f"obj_id must be an integer, got {obj_id!r} ({type(obj_id).__name__})")
    return int(obj_id)
