# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Memory attention: conditions the current frame's image features on past memories and object pointers."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .attention import RoPEAttention
from .common import activation_by_name


class MemoryAttentionLayer(nn.Module):
    """Pre-norm transformer layer: self-attention, cross-attention to memory, feed-forward MLP.

    Works batch-first: ``tgt`` is ``B x L x d_model`` (current-frame tokens), ``memory`` is
    ``B x M x kv_in_dim`` (memory tokens, object-pointer tokens last).
    """

    def __init__(
        self,
        activation: str,  # name of the feed-forward activation ("relu" in all official models)
        cross_attention: nn.Module,  # attention from current tokens to memory (RoPEAttention)
        d_model: int,  # width of the current-frame tokens
        dim_feedforward: int,  # hidden width of the feed-forward MLP
        dropout: float,  # dropout after attention / MLP, active only in training
        pos_enc_at_attn: bool,  # add query_pos to self-attention queries and keys
        pos_enc_at_cross_attn_keys: bool,  # add the memory position encoding to cross-attention keys
        pos_enc_at_cross_attn_queries: bool,  # add query_pos to cross-attention queries
        self_attention: nn.Module,  # attention among current tokens (RoPEAttention)
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.dim_feedforward = dim_feedforward
        self.dropout_value = dropout
        self.self_attn = self_attention
        self.cross_attn_image = cross_attention

        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

        self.activation_str = activation
        self.activation = activation_by_name(activation)

        self.pos_enc_at_attn = pos_enc_at_attn
        self.pos_enc_at_cross_attn_queries = pos_enc_at_cross_attn_queries
        self.pos_enc_at_cross_attn_keys = pos_enc_at_cross_attn_keys

    def _self_attention(self, tgt: torch.Tensor, query_pos: torch.Tensor | None) -> torch.Tensor:
        x = self.norm1(tgt)
        qk = x + query_pos if self.pos_enc_at_attn and query_pos is not None else x
        return tgt + self.dropout1(self.self_attn(qk, qk, x))

    def _cross_attention(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        query_pos: torch.Tensor | None,
        pos: torch.Tensor | None,
        num_k_exclude_rope: int,
        key_padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        x = self.norm2(tgt)
        q = x + query_pos if self.pos_enc_at_cross_attn_queries and query_pos is not None else x
        k = memory + pos if self.pos_enc_at_cross_attn_keys and pos is not None else memory
        if not isinstance(self.cross_attn_image, RoPEAttention):
            if num_k_exclude_rope or key_padding_mask is not None:
                raise TypeError("pointer tokens and padding masks need a RoPEAttention cross-attention")
            out = self.cross_attn_image(q, k, memory)
        else:
            out = self.cross_attn_image(
                q, k, memory, num_k_exclude_rope=num_k_exclude_rope, key_padding_mask=key_padding_mask
            )
        return tgt + self.dropout2(out)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        pos: torch.Tensor | None = None,
        query_pos: torch.Tensor | None = None,
        num_k_exclude_rope: int = 0,
        memory_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tgt: ``B x L x d_model``; memory, pos: ``B x M x kv_in_dim``; query_pos: like tgt.

        The last ``num_k_exclude_rope`` memory tokens are not rotated. ``memory_key_padding_mask``
        (``B x M`` bool, True = ignore) hides padded memory tokens. Returns ``B x L x d_model``.
        """
        tgt = self._self_attention(tgt, query_pos)
        tgt = self._cross_attention(tgt, memory, query_pos, pos, num_k_exclude_rope, memory_key_padding_mask)
        x = self.norm3(tgt)
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return tgt + self.dropout3(x)


class MemoryAttention(nn.Module):
    """``num_layers`` copies of a ``MemoryAttentionLayer`` followed by a final LayerNorm.

    Inputs and output are sequence-first (``L x B x C``), as in the reference; the layers run
    batch-first. ``B`` is the number of objects: each row carries its own memories.
    """

    def __init__(
        self,
        d_model: int,  # width of the current-frame tokens
        pos_enc_at_input: bool,  # add 0.1 * curr_pos to the input tokens once, before the layers
        layer: nn.Module,  # template layer, deep-copied num_layers times
        num_layers: int,
        batch_first: bool = True,  # the layers expect B x L x C (RoPEAttention does)
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.norm = nn.LayerNorm(d_model)
        self.pos_enc_at_input = pos_enc_at_input
        self.batch_first = batch_first

    def forward(
        self,
        curr: torch.Tensor | list[torch.Tensor],
        memory: torch.Tensor,
        curr_pos: torch.Tensor | list[torch.Tensor] | None = None,
        memory_pos: torch.Tensor | None = None,
        num_obj_ptr_tokens: int = 0,
        memory_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend the current frame to its memories.

        curr, curr_pos: ``L x B x d_model`` (or a one-element list of it), L = H*W of the feature grid.
        memory, memory_pos: ``M x B x kv_in_dim``: whole frames of H*W tokens each, then
        ``num_obj_ptr_tokens`` object-pointer tokens, which are excluded from RoPE.
        memory_key_padding_mask: optional ``B x M`` bool, True = ignore that memory token, so objects
        with fewer memories can share a batch padded with whole frames / pointer tokens; padded
        slots must hold finite values. An all-False mask gives the unmasked result.
        Returns ``L x B x d_model``.
        """
        if isinstance(curr, list):
            if len(curr) != 1:
                raise ValueError("curr must be a tensor or a one-element list")
            curr = curr[0]
        if isinstance(curr_pos, list):
            if len(curr_pos) != 1:
                raise ValueError("curr_pos must be a tensor or a one-element list")
            curr_pos = curr_pos[0]
        if curr.shape[1] != memory.shape[1]:
            raise ValueError("curr and memory must have the same batch size (dim 1)")
        if memory_key_padding_mask is not None and memory_key_padding_mask.shape != (
            memory.shape[1],
            memory.shape[0],
        ):
            raise ValueError("memory_key_padding_mask must be B x M")

        output = curr
        if self.pos_enc_at_input and curr_pos is not None:
            output = output + 0.1 * curr_pos

        if self.batch_first:
            output = output.transpose(0, 1)
            curr_pos = curr_pos.transpose(0, 1) if curr_pos is not None else None
            memory = memory.transpose(0, 1)
            memory_pos = memory_pos.transpose(0, 1) if memory_pos is not None else None

        for layer in self.layers:
            # only rotary attention encodes position inside attention, so only it must skip the pointers
            is_rope = isinstance(layer.cross_attn_image, RoPEAttention)
            output = layer(
                tgt=output,
                memory=memory,
                pos=memory_pos,
                query_pos=curr_pos,
                num_k_exclude_rope=num_obj_ptr_tokens if is_rope else 0,
                memory_key_padding_mask=memory_key_padding_mask,
            )
        output = self.norm(output)
        return output.transpose(0, 1) if self.batch_first else output
