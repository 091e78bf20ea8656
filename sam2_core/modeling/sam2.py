# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The SAM 2 network as one module: its parts, its learned embeddings, and stateless per-step functions.

Tracking policy (which memories an object attends to, when memories are written) lives in
``sam2_core.tracker``; this module only computes. Every method works on a batch of objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from ..config import ModelConfig
from .common import MLP, sine_encoding_1d

# Logit given to every pixel of an object that the object-score head says is absent.
NO_OBJ_SCORE = -1024.0


@dataclass
class ImageFeatures:
    """Backbone output for a batch of B frames (shared by all objects of a frame)."""

    features: torch.Tensor  # B x C x h x w, lowest-resolution level (h = image_size / 16)
    pos: torch.Tensor  # B x C x h x w, its sine position encoding
    high_res: list[torch.Tensor]  # [B x C/8 x 4h x 4w, B x C/4 x 2h x 2w], already projected for the decoder

    def repeat(self, n: int) -> ImageFeatures:
        """A batch of one frame seen by ``n`` objects, as views (no copies): ``n x ...``."""
        return ImageFeatures(
            self.features.expand(n, -1, -1, -1),
            self.pos.expand(n, -1, -1, -1),
            [x.expand(n, -1, -1, -1) for x in self.high_res],
        )

    def select(self, index: torch.Tensor | list[int]) -> ImageFeatures:
        """Rows of the batch (e.g. one frame repeated for N objects: ``index = [0] * N``)."""
        index = torch.as_tensor(index, device=self.features.device)
        return ImageFeatures(
            self.features.index_select(0, index),
            self.pos.index_select(0, index),
            [x.index_select(0, index) for x in self.high_res],
        )


@dataclass
class HeadOutput:
    """What the SAM heads give for B objects (M = 3 candidates with multimask output, else 1)."""

    low_res_multimasks: torch.Tensor  # B x M x 4h x 4w float32 logits
    high_res_multimasks: torch.Tensor  # B x M x S x S float32 logits (S = image_size)
    ious: torch.Tensor  # B x M predicted IoU
    low_res_masks: torch.Tensor  # B x 1 x 4h x 4w, the chosen candidate
    high_res_masks: torch.Tensor  # B x 1 x S x S, the chosen candidate
    obj_ptr: torch.Tensor  # B x C object pointer
    object_score_logits: torch.Tensor  # B x 1, > 0 means the object is present


class SAM2Model(nn.Module):
    """Container of the SAM 2 parts with the official checkpoint's parameter names."""

    def __init__(
        self,
        config: ModelConfig,
        image_encoder: nn.Module,  # Hiera + FPN neck
        memory_attention: nn.Module,
        memory_encoder: nn.Module,
        sam_prompt_encoder: nn.Module,
        sam_mask_decoder: nn.Module,
    ) -> None:
        super().__init__()
        self.config = config
        self.image_size = config.image_size
        self.hidden_dim = config.d_model
        self.mem_dim = config.mem_dim
        self.num_maskmem = config.num_maskmem
        self.image_encoder = image_encoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.sam_prompt_encoder = sam_prompt_encoder
        self.sam_mask_decoder = sam_mask_decoder
        c, m = config.d_model, config.mem_dim

        # stride-4 conv turning a mask prompt into a decoder mask input, to derive an object
        # pointer from a mask prompt
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(config.num_maskmem, 1, 1, m))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, c))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, c))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, c))
        for p in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr):
            trunc_normal_(p, std=0.02)
        if config.no_obj_embed_spatial:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, m))
            trunc_normal_(self.no_obj_embed_spatial, std=0.02)
        else:
            self.no_obj_embed_spatial = None
        self.obj_ptr_proj = MLP(c, c, c, 3) if config.use_mlp_for_obj_ptr_proj else nn.Linear(c, c)
        self.obj_ptr_tpos_proj = nn.Linear(c, m) if config.proj_tpos_enc_in_obj_ptrs else nn.Identity()

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.no_mem_embed.dtype

    # ------------------------------------------------------------------ image
    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        """Normalized images ``B x 3 x S x S`` -> backbone features for the heads and memory."""
        out = self.image_encoder(images)
        fpn, pos = out["backbone_fpn"], out["vision_pos_enc"]
        dec = self.sam_mask_decoder
        # the decoder's high-resolution projections are per image, not per prompt: do them once
        high_res = [dec.conv_s0(fpn[0]), dec.conv_s1(fpn[1])] if self.config.use_high_res_features_in_sam else []
        return ImageFeatures(features=fpn[-1], pos=pos[-1], high_res=high_res)

    def add_no_memory(self, features: torch.Tensor) -> torch.Tensor:
        """Features of a frame with no memory to attend to (first prompt frame): ``B x C x h x w``."""
        return features + self.no_mem_embed.view(1, -1, 1, 1)

    # ------------------------------------------------------------------ heads
    def use_multimask(self, is_init_cond_frame: bool, num_points: int) -> bool:
        """Whether the decoder returns 3 candidates (first click on a new object, or tracking)."""
        cfg = self.config
        return (
            cfg.multimask_output_in_sam
            and (is_init_cond_frame or cfg.multimask_output_for_tracking)
            and cfg.multimask_min_pt_num <= num_points <= cfg.multimask_max_pt_num
        )

    def sam_heads(
        self,
        features: torch.Tensor,
        high_res: list[torch.Tensor],
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        mask_inputs: torch.Tensor | None = None,
        multimask_output: bool = False,
    ) -> HeadOutput:
        """Prompt encoder + mask decoder for B objects, each with its own features row.

        features: B x C x h x w (memory-conditioned); high_res: per level B x c x H' x W';
        point_coords: B x P x 2 in model-input pixels (0..S), point_labels: B x P int
        (1 fg, 0 bg, 2/3 box corners, -1 padding); mask_inputs: B x 1 x H x W logits (resized
        to the prompt encoder's mask size when needed).
        """
        b = features.shape[0]
        if point_coords is None:
            point_coords = features.new_zeros(b, 1, 2, dtype=torch.float32)
            point_labels = -torch.ones(b, 1, dtype=torch.int32, device=features.device)
        dense_mask = None
        if mask_inputs is not None:
            size = self.sam_prompt_encoder.mask_input_size
            dense_mask = mask_inputs
            if tuple(mask_inputs.shape[-2:]) != tuple(size):
                dense_mask = F.interpolate(
                    mask_inputs.float(), size=size, mode="bilinear", align_corners=False, antialias=True
                )
            dense_mask = dense_mask.to(features.dtype)
        sparse, dense = self.sam_prompt_encoder(points=(point_coords, point_labels), boxes=None, masks=dense_mask)
        multimasks, ious, tokens, object_score_logits = self.sam_mask_decoder(
            image_embeddings=features,
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res or None,
        )
        present = object_score_logits > 0
        # memory sees a hard present/absent decision, consistent with the output mask
        multimasks = torch.where(present[:, None, None], multimasks, NO_OBJ_SCORE).float()
        high_multimasks = F.interpolate(
            multimasks, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        )
        token = tokens[:, 0]
        if multimask_output:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(b, device=features.device)
            low, high = multimasks[rows, best].unsqueeze(1), high_multimasks[rows, best].unsqueeze(1)
            if tokens.shape[1] > 1:
                token = tokens[rows, best]
        else:
            low, high = multimasks, high_multimasks
        obj_ptr = self._gate_pointer(self.obj_ptr_proj(token), present.to(token.dtype))
        return HeadOutput(multimasks, high_multimasks, ious, low, high, obj_ptr, object_score_logits)

    def mask_as_output(self, features: torch.Tensor, high_res: list[torch.Tensor], masks: torch.Tensor) -> HeadOutput:
        """Use binary mask prompts ``B x 1 x S x S`` directly as the output (logits -10 / +10).

        The decoder still runs once on the downsampled mask to produce an object pointer.
        """
        scale, bias = 20.0, -10.0
        high = masks.float() * scale + bias
        low = F.interpolate(
            high,
            size=(high.shape[-2] // 4, high.shape[-1] // 4),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        ious = masks.new_ones(masks.shape[0], 1).float()
        obj_ptr = self.sam_heads(features, high_res, mask_inputs=self.mask_downsample(masks.to(features.dtype))).obj_ptr
        present = torch.any(masks.flatten(1).float() > 0.0, dim=1)[:, None].float()
        object_score_logits = scale * present + bias
        obj_ptr = self._gate_pointer(obj_ptr, present.to(obj_ptr.dtype))
        return HeadOutput(low, high, ious, low, high, obj_ptr, object_score_logits)

    def _gate_pointer(self, obj_ptr: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Replace the pointer of an absent object by the learned no-object pointer: ``B x C``."""
        if self.config.fixed_no_obj_ptr:
            obj_ptr = present * obj_ptr
        return obj_ptr + (1 - present) * self.no_obj_ptr

    # ------------------------------------------------------------------ memory
    def memory_time_encoding(self, t_pos: int) -> torch.Tensor:
        """Temporal encoding of a memory ``t_pos`` slots back (0 = conditioning frame): ``1 x 1 x mem_dim``."""
        return self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1].view(1, 1, -1)

    def pointer_time_encoding(self, offsets: torch.Tensor, max_pointers: int) -> torch.Tensor:
        """Temporal encoding of object pointers ``offsets`` frames away: ``K`` -> ``K x mem_dim``.

        SAM 2.1 uses signed offsets and a learned projection; SAM 2 uses none (zeros).
        """
        if not self.config.add_tpos_enc_to_obj_ptrs:
            return offsets.new_zeros(offsets.shape[0], self.mem_dim, dtype=self.dtype)
        dim = self.hidden_dim if self.config.proj_tpos_enc_in_obj_ptrs else self.mem_dim
        enc = sine_encoding_1d(offsets.float() / (max_pointers - 1), dim=dim).to(self.dtype)
        return self.obj_ptr_tpos_proj(enc)

    def pointer_tokens(self, obj_ptrs: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split ``K x B x C`` pointers (and ``K x B x mem_dim`` encodings) into ``C/mem_dim`` tokens each."""
        k, b, c = obj_ptrs.shape
        parts = c // self.mem_dim
        if parts == 1:
            return obj_ptrs, pos
        tokens = obj_ptrs.reshape(k, b, parts, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
        return tokens, pos.repeat_interleave(parts, dim=0)

    def attend_to_memory(
        self,
        features: torch.Tensor,
        pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int = 0,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Condition ``B x C x h x w`` features on memory tokens ``M x B x mem_dim`` -> ``B x C x h x w``.

        ``memory_padding_mask`` (B x M, True = ignore) lets objects with fewer memories share a batch.
        """
        b = features.shape[0]
        if b > 1 and features.device.type == "cpu" and not torch.compiler.is_compiling():
            # On a CPU a batch saves no arithmetic, and its B-times larger temporaries (B x tokens x
            # FFN width) fall out of the cache: one object at a time is faster, with the same results.
            mask = memory_padding_mask
            rows = [
                self._attend(
                    features[i : i + 1],
                    pos[i : i + 1],
                    memory[:, i : i + 1],
                    memory_pos[:, i : i + 1],
                    num_obj_ptr_tokens,
                    None if mask is None else mask[i : i + 1],
                )
                for i in range(b)
            ]
            return torch.cat(rows)
        return self._attend(features, pos, memory, memory_pos, num_obj_ptr_tokens, memory_padding_mask)

    def _attend(
        self,
        features: torch.Tensor,
        pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int,
        memory_padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        b, c, h, w = features.shape
        curr = features.flatten(2).permute(2, 0, 1)
        curr_pos = pos.flatten(2).permute(2, 0, 1)
        kwargs = {} if memory_padding_mask is None else {"memory_key_padding_mask": memory_padding_mask}
        out = self.memory_attention(
            curr=curr,
            curr_pos=curr_pos,
            memory=memory,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=num_obj_ptr_tokens,
            **kwargs,
        )
        return out.permute(1, 2, 0).reshape(b, c, h, w)

    def encode_memory(
        self,
        features: torch.Tensor,
        high_res_masks: torch.Tensor,
        object_score_logits: torch.Tensor,
        is_mask_from_pts: bool | torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory of B objects from the frame's raw features ``B x C x h x w`` and mask logits ``B x 1 x S x S``.

        ``is_mask_from_pts`` (bool or B bools): masks that came from clicks are binarized first.
        Returns (``B x mem_dim x h x w`` features, ``B x mem_dim x h x w`` position encoding).
        """
        soft = torch.sigmoid(high_res_masks)
        if self.config.binarize_mask_from_pts_for_mem_enc:
            hard = (high_res_masks > 0).to(soft.dtype)
            if isinstance(is_mask_from_pts, torch.Tensor):
                soft = torch.where(is_mask_from_pts.view(-1, 1, 1, 1), hard, soft)
            elif is_mask_from_pts:
                soft = hard
        mask = soft * self.config.sigmoid_scale_for_mem_enc + self.config.sigmoid_bias_for_mem_enc
        out = self.memory_encoder(features, mask.to(features.dtype), skip_mask_sigmoid=True)
        mem, mem_pos = out["vision_features"], out["vision_pos_enc"][-1]
        if self.no_obj_embed_spatial is not None:
            absent = (object_score_logits <= 0).to(mem.dtype)
            mem = mem + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None]
        return mem, mem_pos
