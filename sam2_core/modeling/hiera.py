# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Hiera trunk of the SAM 2 image encoder: a four-stage windowed ViT with query pooling."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import MLP, DropPath


def window_partition(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Cut ``B x H x W x C`` into non-overlapping ``size x size`` windows.

    The grid is zero-padded at the bottom/right up to a multiple of ``size``. Returns the windows
    ``(B * nH * nW) x size x size x C`` (row-major over windows) and the padded grid ``(Hp, Wp)``.
    """
    b, h, w, c = x.shape
    pad_h, pad_w = -h % size, -w % size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // size, size, wp // size, size, c).transpose(2, 3)
    return x.reshape(-1, size, size, c), (hp, wp)


def window_unpartition(
    windows: torch.Tensor, size: int, padded_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nH * nW) x size x size x C`` -> ``B x H x W x C``.

    ``padded_hw`` is the grid the windows tile exactly; padding beyond ``hw`` is cropped off.
    """
    hp, wp = padded_hw
    n_h, n_w = hp // size, wp // size
    b = windows.shape[0] // (n_h * n_w)
    x = windows.reshape(b, n_h, n_w, size, size, -1).transpose(2, 3).reshape(b, hp, wp, -1)
    h, w = hw
    if hp > h or wp > w:
        x = x[:, :h, :w]
    return x


def _max_pool_nhwc(x: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """Non-overlapping max pooling of a channels-last ``B x H x W x C`` grid (floor at odd sizes)."""
    x = F.max_pool2d(x.permute(0, 3, 1, 2), kernel_size=stride, stride=stride)
    return x.permute(0, 2, 3, 1)


class PatchEmbed(nn.Module):
    """Overlapping patches: 7x7 conv, stride 4, padding 3. ``B x 3 x H x W`` -> ``B x H/4 x W/4 x C``."""

    def __init__(self, in_chans: int = 3, embed_dim: int = 96) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention on a token grid whose queries may be max-pooled (stage transitions).

    With pooling, the output grid is the pooled query grid, so the block downsamples its input.
    """

    def __init__(
        self,
        dim: int,  # input channels
        dim_out: int,  # channels of q, k, v and of the output
        num_heads: int,
        q_stride: tuple[int, int] | None = None,  # query pooling stride, None for no pooling
    ) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.num_heads = num_heads
        self.q_stride = tuple(q_stride) if q_stride else None
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x H x W x dim`` -> ``B x H' x W' x dim_out`` (H' = H / q_stride with pooling, else H)."""
        b, h, w, _ = x.shape
        # the checkpoint's qkv output channels are laid out as (3, heads, head_dim)
        q, k, v = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).unbind(2)
        if self.q_stride is not None:
            q = _max_pool_nhwc(q.reshape(b, h, w, -1), self.q_stride)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        # SDPA wants B x heads x L x head_dim
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block on a ``B x H x W x C`` grid with optional windowing and query pooling.

    When ``dim != dim_out`` (first block of a stage) the residual goes through ``proj`` (and the same
    pooling as the queries), so the block changes both channel count and resolution.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,  # stochastic depth probability of both residual branches
        q_stride: tuple[int, int] | None = None,  # query pooling stride at a stage transition
        window_size: int = 0,  # attention window side in tokens, 0 for global attention
    ) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.window_size = window_size
        self.q_stride = tuple(q_stride) if q_stride else None
        if window_size > 0 and self.q_stride and any(window_size % s for s in self.q_stride):
            # pooled windows must stay square windows that tile the pooled grid
            raise ValueError(f"window_size {window_size} is not divisible by q_stride {self.q_stride}")
        if window_size > 0 and self.q_stride and self.q_stride[0] != self.q_stride[1]:
            raise ValueError(f"windowed query pooling needs a square q_stride, got {self.q_stride}")
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads=num_heads, q_stride=self.q_stride)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x H x W x dim`` -> ``B x H' x W' x dim_out``."""
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            # the residual is projected from the normalized input, as in the official model
            shortcut = self.proj(x)
        if self.q_stride is not None:
            shortcut = _max_pool_nhwc(shortcut, self.q_stride)

        size = self.window_size
        if size > 0:
            x, (hp, wp) = window_partition(x, size)
        x = self.attn(x)
        if size > 0:
            if self.q_stride is not None:
                # windows were pooled too: each is now size/stride wide and tiles the pooled padded grid
                sh, sw = self.q_stride
                size, hp, wp = size // sh, hp // sh, wp // sw
            x = window_unpartition(x, size, (hp, wp), shortcut.shape[1:3])

        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Hiera(nn.Module):
    """Hiera trunk (https://arxiv.org/abs/2306.00989) as used by SAM 2.

    ``B x 3 x H x W`` -> list of per-stage features ``B x C_s x H/(4*2^s) x W/(4*2^s)``, finest first
    (only the last stage when ``return_interm_layers`` is False). ``channel_list`` gives the output
    channels deepest first, which is the order the FPN neck is configured with.
    """

    def __init__(
        self,
        embed_dim: int = 96,  # channels of the first stage
        num_heads: int = 1,  # attention heads of the first stage
        drop_path_rate: float = 0.0,  # stochastic depth, rising linearly to this at the last block
        q_pool: int = 3,  # how many stage transitions pool (downsample) the queries
        q_stride: tuple[int, int] = (2, 2),  # downsampling at each pooled transition
        stages: tuple[int, ...] = (2, 3, 16, 3),  # blocks per stage
        dim_mul: float = 2.0,  # channel multiplier at each stage transition
        head_mul: float = 2.0,  # head-count multiplier at each stage transition
        window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14),  # background pos-embed grid
        window_spec: tuple[int, ...] = (8, 4, 14, 7),  # attention window side per stage
        global_att_blocks: tuple[int, ...] = (12, 16, 20),  # blocks that attend globally
        return_interm_layers: bool = True,  # return every stage's output, not just the last
    ) -> None:
        super().__init__()
        if len(stages) != len(window_spec):
            raise ValueError(f"stages {stages} and window_spec {window_spec} must have the same length")
        if not 0 <= q_pool <= len(stages) - 1:
            raise ValueError(f"q_pool must be in [0, {len(stages) - 1}], got {q_pool}")
        self.window_spec = tuple(window_spec)
        self.q_stride = tuple(q_stride)
        self.global_att_blocks = tuple(global_att_blocks or ())
        self.return_interm_layers = return_interm_layers
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
        # the first block of each of the first q_pool later stages pools its queries
        q_pool_blocks = {end + 1 for end in self.stage_ends[:-1][:q_pool]}

        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        # windowed positional embedding (https://arxiv.org/abs/2311.05613): a coarse background
        # grid resized to the patch grid, plus one window-sized embedding tiled over it
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, window_spec[0], window_spec[0]))

        depth = sum(stages)
        drop_rates = [drop_path_rate * i / (depth - 1) if depth > 1 else 0.0 for i in range(depth)]
        stage_of = [sum(i > end for end in self.stage_ends) for i in range(depth)]
        dim, heads = embed_dim, num_heads
        self.blocks = nn.ModuleList()
        for i in range(depth):
            dim_out = dim
            if i > 0 and stage_of[i] != stage_of[i - 1]:
                dim_out = int(dim * dim_mul)
                heads = int(heads * head_mul)
            # the window lags one block: a stage's first block still uses the previous stage's window
            window = 0 if i in self.global_att_blocks else self.window_spec[stage_of[max(i - 1, 0)]]
            self.blocks.append(
                MultiScaleBlock(
                    dim=dim,
                    dim_out=dim_out,
                    num_heads=heads,
                    drop_path=drop_rates[i],
                    q_stride=self.q_stride if i in q_pool_blocks else None,
                    window_size=window,
                )
            )
            dim = dim_out

        out_blocks = self.stage_ends if return_interm_layers else self.stage_ends[-1:]
        self._out_blocks = frozenset(out_blocks)
        self.channel_list = [self.blocks[i].dim_out for i in reversed(out_blocks)]

    def _get_pos_embed(self, hw: tuple[int, int]) -> torch.Tensor:
        """Positional embedding for an ``H x W`` patch grid: ``1 x H x W x C``."""
        h, w = hw
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        reps = (math.ceil(h / win.shape[-2]), math.ceil(w / win.shape[-1]))
        # crop covers grids that are not a whole number of windows (a no-op for the official sizes)
        pos = pos + win.tile(1, 1, *reps)[..., :h, :w]
        return pos.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``B x 3 x H x W`` -> per-stage ``B x C_s x H_s x W_s``, finest first."""
        x = self.patch_embed(x)
        x = x + self._get_pos_embed(x.shape[1:3])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self._out_blocks:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
