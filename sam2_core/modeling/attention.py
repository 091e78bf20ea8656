# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Multi-head attention with optional channel down-projection, and its rotary (RoPE) variant."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import apply_rope, axial_rope_frequencies


class Attention(nn.Module):
    """Multi-head attention whose inner width is ``embedding_dim // downsample_rate``.

    Keys/values may come from a different width (``kv_in_dim``), as in memory cross-attention.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        dropout: float = 0.0,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.kv_in_dim = kv_in_dim if kv_in_dim is not None else embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads:
            raise ValueError("num_heads must divide embedding_dim // downsample_rate")
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)
        self.dropout_p = dropout

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """``B x N x C`` -> ``B x heads x N x C/heads``."""
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    @staticmethod
    def _merge(x: torch.Tensor) -> torch.Tensor:
        """``B x heads x N x c`` -> ``B x N x heads*c``."""
        b, h, n, c = x.shape
        return x.transpose(1, 2).reshape(b, n, h * c)

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Heads-split q, k, v -> ``B x Nq x embedding_dim``; ``key_padding_mask`` B x Nk, True = ignore."""
        p = self.dropout_p if self.training else 0.0
        keep = None
        if key_padding_mask is not None:
            # SDPA's boolean mask means "may attend"; B x 1 x 1 x Nk broadcasts over heads and queries.
            # A fully padded row gives zeros, not NaN.
            keep = ~key_padding_mask[:, None, None, :]
        return self.out_proj(self._merge(F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p)))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q: ``B x Nq x embedding_dim``; k, v: ``B x Nk x kv_in_dim`` -> ``B x Nq x embedding_dim``."""
        return self._attend(self._split(self.q_proj(q)), self._split(self.k_proj(k)), self._split(self.v_proj(v)))


class RoPEAttention(Attention):
    """Attention with 2-D axial rotary encoding of queries and keys.

    Queries form a square grid of ``feat_sizes``; with ``rope_k_repeat`` the keys are several
    such grids (memory frames) and each gets the same rotations. The last ``num_k_exclude_rope``
    keys (object pointers) are not rotated.
    """

    def __init__(
        self,
        *args,
        rope_theta: float = 10000.0,
        rope_k_repeat: bool = False,
        feat_sizes: tuple[int, int] = (64, 64),
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rope_theta = rope_theta
        self.rope_k_repeat = rope_k_repeat
        self.feat_sizes = tuple(feat_sizes)
        self._freqs: dict[tuple, torch.Tensor] = {}

    def _frequencies(self, num_tokens: int, device: torch.device) -> torch.Tensor:
        key = (num_tokens, str(device))
        freqs = self._freqs.get(key)
        if freqs is None:
            w, h = self.feat_sizes
            if w * h != num_tokens:  # a square grid of another size
                w = h = int(math.isqrt(num_tokens))
            dim = self.internal_dim // self.num_heads
            freqs = axial_rope_frequencies(dim, w, h, self.rope_theta).to(device)
            self._freqs[key] = freqs
        return freqs

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        num_k_exclude_rope: int = 0,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """q: ``B x Nq x C``; k, v: ``B x Nk x kv_in_dim``; returns ``B x Nq x C``.

        ``key_padding_mask`` (B x Nk bool, True = ignore) lets batch rows have fewer real keys;
        all-False gives exactly the unmasked result.
        """
        q = self._split(self.q_proj(q))
        k = self._split(self.k_proj(k))
        v = self._split(self.v_proj(v))
        if q.shape[-2] != k.shape[-2] and not self.rope_k_repeat:
            raise ValueError("keys differ in length from queries but rope_k_repeat is off")
        freqs = self._frequencies(q.shape[-2], q.device)
        num_rope = k.shape[-2] - num_k_exclude_rope
        q, k_rot = apply_rope(q, k[:, :, :num_rope], freqs, repeat_freqs_k=self.rope_k_repeat)
        k = torch.cat([k_rot, k[:, :, num_rope:]], dim=2) if num_k_exclude_rope else k_rot
        return self._attend(q, k, v, key_padding_mask)
