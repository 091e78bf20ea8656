# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Positional encodings: 2-D sine grids, random Fourier features, and axial rotary (RoPE) helpers."""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """Fixed 2-D sine/cosine encoding of a feature-map grid (DETR style).

    ``num_pos_feats`` is the total number of output channels: half encode y, half encode x.
    Grids are cached per (H, W, device) because they never change.
    """

    def __init__(
        self,
        num_pos_feats: int,
        temperature: float = 10000,
        normalize: bool = True,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError("PositionEmbeddingSine needs an even number of channels")
        if scale is not None and not normalize:
            raise ValueError("scale is only used with normalize=True")
        self.num_pos_feats = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: dict[tuple, torch.Tensor] = {}

    @torch.no_grad()
    def grid(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """Encoding of an ``height x width`` grid: ``C x H x W`` float32."""
        key = (height, width, str(device))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        y = torch.arange(1, height + 1, dtype=torch.float32, device=device)[:, None].expand(height, width)
        x = torch.arange(1, width + 1, dtype=torch.float32, device=device)[None, :].expand(height, width)
        if self.normalize:
            eps = 1e-6
            y = y / (height + eps) * self.scale
            x = x / (width + eps) * self.scale
        idx = torch.arange(self.num_pos_feats, dtype=torch.float32, device=device)
        freq = self.temperature ** (2 * (idx // 2) / self.num_pos_feats)
        px = x[..., None] / freq
        py = y[..., None] / freq
        # interleave sin of even and cos of odd frequency slots
        px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=-1).flatten(-2)
        py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=-1).flatten(-2)
        pos = torch.cat((py, px), dim=-1).permute(2, 0, 1).contiguous()
        self._cache[key] = pos
        return pos

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x * x H x W`` -> ``B x C x H x W`` (float32)."""
        pos = self.grid(x.shape[-2], x.shape[-1], x.device)
        return pos[None].expand(x.shape[0], -1, -1, -1)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier-feature encoding of normalized coordinates (SAM's prompt encoder)."""

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        if scale is None or scale <= 0.0:
            scale = 1.0
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _encode(self, coords: torch.Tensor) -> torch.Tensor:
        """``... x 2`` coordinates in [0, 1] -> ``... x 2*num_pos_feats``."""
        matrix = self.positional_encoding_gaussian_matrix
        # float32 maths whatever the model's dtype: bf16 coordinates would be off by pixels
        coords = (2 * coords.float() - 1) @ matrix.float()
        coords = 2 * math.pi * coords
        return torch.cat([coords.sin(), coords.cos()], dim=-1).to(matrix.dtype)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Dense encoding of an ``H x W`` grid of cell centres: ``C x H x W``."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        grid = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1)
        return self._encode(grid).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """``B x N x 2`` pixel (x, y) coordinates in an image of ``image_size`` (H, W) -> ``B x N x C``."""
        size_xy = coords.new_tensor([image_size[1], image_size[0]])
        return self._encode((coords / size_xy).float())


def axial_rope_frequencies(dim: int, end_x: int, end_y: int, theta: float = 10000.0) -> torch.Tensor:
    """Complex rotations for 2-D axial RoPE over an ``end_y x end_x`` grid (row-major).

    Returns ``(end_x*end_y) x (dim//2)`` complex64: the first ``dim//4`` columns rotate by x,
    the last ``dim//4`` by y.
    """
    inv = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].float() / dim))
    t = torch.arange(end_x * end_y, dtype=torch.float32)
    tx = t % end_x
    ty = torch.div(t, end_x, rounding_mode="floor")
    ax = torch.outer(tx, inv)
    ay = torch.outer(ty, inv)
    return torch.cat([torch.polar(torch.ones_like(ax), ax), torch.polar(torch.ones_like(ay), ay)], dim=-1)


def apply_rope(
    q: torch.Tensor, k: torch.Tensor, freqs: torch.Tensor, repeat_freqs_k: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate queries and keys (``B x heads x L x C``) by ``freqs`` (``L_q x C/2`` complex).

    With ``repeat_freqs_k`` the keys are a whole number of repetitions of the query grid
    (several memory frames) and the rotations are tiled along the sequence.
    """
    qc = torch.view_as_complex(q.float().reshape(*q.shape[:-1], -1, 2))
    q_out = torch.view_as_real(qc * freqs).flatten(3).type_as(q)
    if k.shape[-2] == 0:
        return q_out, k
    kc = torch.view_as_complex(k.float().reshape(*k.shape[:-1], -1, 2))
    if repeat_freqs_k:
        reps = kc.shape[-2] // qc.shape[-2]
        freqs = freqs.unsqueeze(0).expand(reps, -1, -1).flatten(0, 1)
    k_out = torch.view_as_real(kc * freqs).flatten(3).type_as(k)
    return q_out, k_out
