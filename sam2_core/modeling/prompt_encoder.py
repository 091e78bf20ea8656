# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM's prompt encoder: points and boxes become sparse tokens, a mask logit map becomes a dense map."""

from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d
from .position_encoding import PositionEmbeddingRandom

# Point labels understood by the encoder. Box corners are points labelled 2 (top-left) and
# 3 (bottom-right), which is also how the video predictor feeds boxes in.
LABEL_PADDING = -1
LABEL_NEGATIVE = 0
LABEL_POSITIVE = 1
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3


class PromptEncoder(nn.Module):
    """Embeds point, box and mask prompts for :class:`~sam2_core.modeling.mask_decoder.MaskDecoder`."""

    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        """
        embed_dim: token width (256 for every SAM 2 model).
        image_embedding_size: (h, w) of the image embedding the decoder reads, e.g. (64, 64).
        input_image_size: (H, W) of the network's input image, e.g. (1024, 1024); point and box
            coordinates are pixels in this frame.
        mask_in_chans: hidden channels of the mask downscaling convs (16).
        activation: activation between the mask downscaling convs.
        """
        super().__init__()
        self.embed_dim = embed_dim
        self.image_embedding_size = tuple(image_embedding_size)
        self.input_image_size = tuple(input_image_size)
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)

        # One learned offset per label 0..3 (negative, positive, box top-left, box bottom-right).
        self.num_point_embeddings = 4
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)

        # Mask prompts are logits at 4x the embedding resolution (256x256 for a 64x64 embedding);
        # two stride-2 convs bring them down to the embedding grid.
        self.mask_input_size = (4 * self.image_embedding_size[0], 4 * self.image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            activation(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            activation(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of every image-embedding cell: ``1 x C x h x w``."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def _label_offsets(self, labels: torch.Tensor) -> torch.Tensor:
        """Learned offset for each label: ``B x N`` -> ``B x N x C``.

        Row 0 of the table is zero and catches any label outside 0..3 (those points keep
        their bare positional encoding); indexing keeps the sum bit-exact and needs no host sync.
        """
        weights = [emb.weight for emb in self.point_embeddings]
        table = torch.cat([torch.zeros_like(weights[0])] + weights, dim=0)
        known = (labels >= 0) & (labels < self.num_point_embeddings)
        index = torch.where(known, labels.long() + 1, torch.zeros_like(labels, dtype=torch.long))
        return table[index]

    def _embed_points(self, points: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """points: ``B x N x 2`` (x, y) pixels; labels: ``B x N``. Returns ``B x N(+1) x C``."""
        points = points + 0.5  # pixel centres
        if pad:
            # Without a box, SAM was trained with one extra padding token after the points.
            points = torch.cat([points, points.new_zeros(points.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), LABEL_PADDING)], dim=1)
        pe = self.pe_layer.forward_with_coords(points, self.input_image_size)
        is_padding = (labels == LABEL_PADDING).unsqueeze(-1)
        not_a_point = self.not_a_point_embed.weight.to(pe.dtype).expand_as(pe)
        return torch.where(is_padding, not_a_point, pe + self._label_offsets(labels).to(pe.dtype))

    def _embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """boxes: ``B x 4`` (x0, y0, x1, y1) pixels -> ``B x 2 x C`` corner tokens."""
        corners = (boxes + 0.5).reshape(-1, 2, 2)
        pe = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        offsets = torch.cat(
            [
                self.point_embeddings[LABEL_BOX_TOP_LEFT].weight,
                self.point_embeddings[LABEL_BOX_BOTTOM_RIGHT].weight,
            ]
        )
        return pe + offsets.to(pe.dtype)

    def _embed_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """masks: ``B x 1 x 4h x 4w`` logits -> ``B x C x h x w``."""
        return self.mask_downscaling(masks)

    @staticmethod
    def _batch_size(
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> int:
        if points is not None:
            return points[0].shape[0]
        if boxes is not None:
            return boxes.shape[0]
        if masks is not None:
            return masks.shape[0]
        return 1

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed any combination of prompts (all given ones must share the batch size B).

        points: ``(coords B x N x 2, labels B x N)``, pixel (x, y) in the input image frame, labels
            -1 padding, 0 negative, 1 positive, 2/3 box corners. A padding token is appended when
            no box is given.
        boxes: ``B x 4`` (x0, y0, x1, y1) pixels.
        masks: ``B x 1 x 4h x 4w`` mask logits.

        Returns ``(sparse B x N_tokens x C, dense B x C x h x w)``; with no prompt at all B is 1,
        there are no sparse tokens and the dense map is the learned "no mask" embedding.
        """
        bs = self._batch_size(points, boxes, masks)
        weight = self.no_mask_embed.weight
        sparse = [weight.new_empty(bs, 0, self.embed_dim)]
        if points is not None:
            coords, labels = points
            sparse.append(self._embed_points(coords, labels, pad=boxes is None))
        if boxes is not None:
            sparse.append(self._embed_boxes(boxes))
        sparse_embeddings = torch.cat(sparse, dim=1)

        if masks is not None:
            dense_embeddings = self._embed_masks(masks)
        else:
            h, w = self.image_embedding_size
            dense_embeddings = weight.reshape(1, -1, 1, 1).expand(bs, -1, h, w)
        return sparse_embeddings, dense_embeddings
