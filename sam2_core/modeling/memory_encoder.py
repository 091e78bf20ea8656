# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Memory encoder: fuses a frame's image features with its predicted mask into a 64-channel memory."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from .common import DropPath, LayerNorm2d


class MaskDownSampler(nn.Module):
    """Shrinks a ``B x 1 x H x W`` mask by ``total_stride`` in steps of ``stride``.

    Each step is conv -> LayerNorm2d -> activation and multiplies the channels by ``stride**2``
    (the pixels it folds away); a final 1x1 conv projects to ``embed_dim``.
    Output: ``B x embed_dim x H/total_stride x W/total_stride``.
    """

    def __init__(
        self,
        embed_dim: int = 256,  # output channels (the image-feature width)
        kernel_size: int = 4,
        stride: int = 4,  # downsampling per step
        padding: int = 0,
        total_stride: int = 16,  # overall downsampling; must be a power of stride
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        num_steps = int(math.log2(total_stride) // math.log2(stride))
        if stride**num_steps != total_stride:
            raise ValueError("total_stride must be a power of stride")
        # Keys encoder.{3i} conv, encoder.{3i+1} norm, encoder.{3i+2} activation, then the 1x1 conv.
        self.encoder = nn.Sequential()
        channels = 1
        for _ in range(num_steps):
            out_channels = channels * stride**2
            self.encoder.append(
                nn.Conv2d(channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding)
            )
            self.encoder.append(LayerNorm2d(out_channels))
            self.encoder.append(activation())
            channels = out_channels
        self.encoder.append(nn.Conv2d(channels, embed_dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x 1 x H x W`` -> ``B x embed_dim x H/total_stride x W/total_stride``."""
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block on ``B x C x H x W``: depthwise conv, LayerNorm, pointwise MLP (x4), layer scale.

    The pointwise convs are linear layers on channels-last tensors, as in the checkpoints.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        padding: int = 3,
        drop_path: float = 0.0,  # stochastic-depth rate of the residual branch (training only)
        layer_scale_init_value: float = 1e-6,  # initial per-channel branch scale; <= 0 disables it
        use_dwconv: bool = True,  # depthwise (groups=dim) rather than full conv
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=padding, groups=dim if use_dwconv else 1)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x dim x H x W`` -> same shape."""
        y = self.norm(self.dwconv(x))
        y = y.permute(0, 2, 3, 1)  # channels last for the linear layers
        y = self.pwconv2(self.act(self.pwconv1(y)))
        if self.gamma is not None:
            y = self.gamma * y
        y = y.permute(0, 3, 1, 2)
        return x + self.drop_path(y)


class Fuser(nn.Module):
    """An optional 1x1 input projection followed by ``num_layers`` copies of ``layer``."""

    def __init__(
        self,
        layer: nn.Module,  # template block, deep-copied num_layers times
        num_layers: int,
        dim: int | None = None,  # channels, needed only with input_projection
        input_projection: bool = False,
    ) -> None:
        super().__init__()
        self.proj: nn.Module = nn.Identity()
        if input_projection:
            if dim is None:
                raise ValueError("input_projection needs dim")
            self.proj = nn.Conv2d(dim, dim, kernel_size=1)
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` -> same shape."""
        x = self.proj(x)
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """Turns image features and a mask of one frame into memory features and their position encoding."""

    def __init__(
        self,
        out_dim: int,  # memory channels (64 in the official models)
        mask_downsampler: nn.Module,  # B x 1 x H x W mask -> B x in_dim x h x w
        fuser: nn.Module,  # mixes features and mask at in_dim channels
        position_encoding: nn.Module,  # B x out_dim x h x w -> its sine encoding
        in_dim: int = 256,  # channels of the image features
    ) -> None:
        super().__init__()
        self.mask_downsampler = mask_downsampler
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = fuser
        self.position_encoding = position_encoding
        self.out_proj: nn.Module = nn.Conv2d(in_dim, out_dim, kernel_size=1) if out_dim != in_dim else nn.Identity()

    def forward(
        self, pix_feat: torch.Tensor, masks: torch.Tensor, skip_mask_sigmoid: bool = False
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """pix_feat: ``B x in_dim x h x w``; masks: ``B x 1 x H x W`` logits, H = h * total_stride.

        With ``skip_mask_sigmoid`` the masks are used as given (already probabilities or binary);
        otherwise they are squashed with a sigmoid, so logits look like the binary masks seen in
        training. Returns ``{"vision_features": B x out_dim x h x w,
        "vision_pos_enc": [B x out_dim x h x w]}``.
        """
        if not skip_mask_sigmoid:
            masks = torch.sigmoid(masks)
        masks = self.mask_downsampler(masks)
        x = self.pix_feat_proj(pix_feat.to(masks.device)) + masks
        x = self.out_proj(self.fuser(x))
        pos = self.position_encoding(x).to(x.dtype)
        return {"vision_features": x, "vision_pos_enc": [pos]}
