# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM's two-way transformer: prompt tokens and image tokens attend to each other in turn."""

from __future__ import annotations

import torch
from torch import nn

from .attention import Attention
from .common import MLP


class TwoWayAttentionBlock(nn.Module):
    """One round of token self-attention, token-to-image attention, token MLP, image-to-token attention.

    Each sub-layer is residual and followed by a LayerNorm (post-norm), as in SAM.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int = 2048,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
    ) -> None:
        """
        embedding_dim: width of both token and image embeddings.
        num_heads: attention heads in every attention layer.
        mlp_dim: hidden width of the token MLP.
        activation: activation of the token MLP.
        attention_downsample_rate: the two cross-attentions work at ``embedding_dim // rate``
            channels, because they touch every image token and full width would be costly.
        skip_first_layer_pe: in the first block the tokens *are* their positional encodings
            (queries == query_pe), so the self-attention neither adds them again nor keeps a residual.
        """
        super().__init__()
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(embedding_dim, num_heads, downsample_rate=attention_downsample_rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLP(embedding_dim, mlp_dim, embedding_dim, num_layers=2, activation=activation)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(embedding_dim, num_heads, downsample_rate=attention_downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        query_pe: torch.Tensor,
        key_pe: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries, query_pe: ``B x N_tokens x C``; keys, key_pe: ``B x HW x C``.

        Returns the updated ``(queries, keys)`` with unchanged shapes.
        """
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)

        # Tokens read from the image; positional encodings go on queries and keys, never on values.
        q = queries + query_pe
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))

        queries = self.norm3(queries + self.mlp(queries))

        # The image reads back from the updated tokens (roles of q and k swapped).
        q = queries + query_pe
        k = keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """A stack of :class:`TwoWayAttentionBlock` and a last token-to-image attention."""

    def __init__(
        self,
        depth: int,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
    ) -> None:
        """
        depth: number of two-way blocks (2 in every SAM 2 model).
        embedding_dim: channel width of tokens and image embedding (256).
        num_heads: attention heads; must divide ``embedding_dim // attention_downsample_rate``.
        mlp_dim: hidden width of each block's token MLP (2048).
        activation: activation of the token MLPs.
        attention_downsample_rate: channel reduction inside the cross-attentions.
        """
        super().__init__()
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                activation=activation,
                attention_downsample_rate=attention_downsample_rate,
                skip_first_layer_pe=(i == 0),
            )
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(embedding_dim, num_heads, downsample_rate=attention_downsample_rate)
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(
        self,
        image_embedding: torch.Tensor,
        image_pe: torch.Tensor,
        point_embedding: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the decoder.

        image_embedding: ``B x C x h x w``.
        image_pe: positional encoding of the image, ``B x C x h x w`` (a batch-1 tensor
            expanded to B is fine).
        point_embedding: ``B x N_tokens x C`` output and prompt tokens; they also serve as their
            own positional encoding in every block.

        Returns ``(tokens B x N_tokens x C, image tokens B x hw x C)``.
        """
        keys = image_embedding.flatten(2).permute(0, 2, 1)
        key_pe = image_pe.flatten(2).permute(0, 2, 1)
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries=queries, keys=keys, query_pe=point_embedding, key_pe=key_pe)

        q = queries + point_embedding
        k = keys + key_pe
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, k, keys))
        return queries, keys
