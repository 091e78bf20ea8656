# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 image encoder: a trunk (Hiera) followed by a feature-pyramid neck with sine position encodings."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FpnNeck(nn.Module):
    """Feature pyramid over the trunk's stages, without output convs.

    Each stage is projected to ``d_model`` channels by a lateral conv; levels listed in
    ``fpn_top_down_levels`` also add the upsampled (2x) result of the next coarser level.
    """

    def __init__(
        self,
        position_encoding: nn.Module,  # maps B x C x H x W to its B x C' x H x W encoding
        d_model: int,  # output channels of every level
        backbone_channel_list: Sequence[int],  # trunk channels per level, deepest first
        kernel_size: int = 1,  # lateral conv geometry
        stride: int = 1,
        padding: int = 0,
        fpn_interp_model: str = "bilinear",  # upsampling mode of the top-down path
        fuse_type: str = "sum",  # "sum" or "avg" of lateral and top-down features
        fpn_top_down_levels: Sequence[int] | None = None,  # levels (finest = 0) with top-down input
    ) -> None:
        super().__init__()
        if fuse_type not in ("sum", "avg"):
            raise ValueError(f"fuse_type must be 'sum' or 'avg', got {fuse_type!r}")
        self.position_encoding = position_encoding
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        # convs[j] projects the j-th deepest level; the Sequential wrapper gives the checkpoint's
        # "convs.{j}.conv.weight" keys
        self.convs = nn.ModuleList(
            nn.Sequential(
                OrderedDict(conv=nn.Conv2d(dim, d_model, kernel_size=kernel_size, stride=stride, padding=padding))
            )
            for dim in self.backbone_channel_list
        )
        self.fpn_interp_model = fpn_interp_model
        self.fuse_type = fuse_type
        levels = range(len(self.convs)) if fpn_top_down_levels is None else fpn_top_down_levels
        self.fpn_top_down_levels = list(levels)

    def forward(self, xs: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-level trunk features ``B x C_i x H_i x W_i`` (finest first) -> (features, position encodings).

        Both outputs are lists, finest first, of ``B x d_model x H_i x W_i``.
        """
        n = len(self.convs)
        if len(xs) != n:
            raise ValueError(f"neck expects {n} levels, got {len(xs)}")
        out: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        pos: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        prev = None
        # coarsest level first so each finer level can add the upsampled coarser result
        for level in range(n - 1, -1, -1):
            lateral = self.convs[n - 1 - level](xs[level])
            if prev is not None and level in self.fpn_top_down_levels:
                # upsample in fp32 (as the official model does), e.g. under bf16 autocast
                top_down = F.interpolate(
                    prev.to(dtype=torch.float32),
                    scale_factor=2.0,
                    mode=self.fpn_interp_model,
                    align_corners=None if self.fpn_interp_model == "nearest" else False,
                    antialias=False,
                ).to(lateral.dtype)
                prev = lateral + top_down
                if self.fuse_type == "avg":
                    prev = prev / 2
            else:
                prev = lateral
            out[level] = prev
            pos[level] = self.position_encoding(prev).to(prev.dtype)
        return out, pos


class ImageEncoder(nn.Module):
    """Trunk + neck. ``scalp`` drops that many of the coarsest levels from the outputs."""

    def __init__(self, trunk: nn.Module, neck: FpnNeck, scalp: int = 0) -> None:
        super().__init__()
        if list(trunk.channel_list) != list(neck.backbone_channel_list):
            raise ValueError(
                f"trunk channels {list(trunk.channel_list)} do not match neck "
                f"backbone_channel_list {list(neck.backbone_channel_list)}"
            )
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, sample: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """``B x 3 x H x W`` normalized image -> dict, all lists finest first:

        - ``vision_features``: ``B x d_model x h x w``, the coarsest level kept (H/16 with scalp=1);
        - ``vision_pos_enc``: per kept level ``B x d_model x h_i x w_i``;
        - ``backbone_fpn``: per kept level ``B x d_model x h_i x w_i``.
        """
        features, pos = self.neck(self.trunk(sample))
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return {"vision_features": features[-1], "vision_pos_enc": pos, "backbone_fpn": features}
