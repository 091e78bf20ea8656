# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM 2's mask decoder: output tokens plus prompt tokens run through the two-way transformer into masks."""

from __future__ import annotations

import torch
from torch import nn

from .common import MLP, LayerNorm2d


class MaskDecoder(nn.Module):
    """Predicts mask logits, IoU scores, object-presence logits and the object-pointer token."""

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        activation: type[nn.Module] = nn.GELU,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool = False,
        iou_prediction_use_sigmoid: bool = False,
        dynamic_multimask_via_stability: bool = False,
        dynamic_multimask_stability_delta: float = 0.05,
        dynamic_multimask_stability_thresh: float = 0.98,
        pred_obj_scores: bool = False,
        pred_obj_scores_mlp: bool = False,
        use_multimask_token_for_obj_ptr: bool = False,
    ) -> None:
        """
        transformer_dim: token and image-embedding width (256).
        transformer: the two-way transformer,
            ``(image B x C x h x w, pe, tokens B x N x C) -> (tokens, image tokens)``.
        num_multimask_outputs: masks in the ambiguity-aware output; one more token gives the single mask.
        activation: activation of the upscaling path.
        iou_head_depth, iou_head_hidden_dim: shape of the IoU-prediction MLP.
        use_high_res_features: add the stride-4 and stride-8 backbone maps (already projected by
            ``conv_s0`` / ``conv_s1``, which live here so checkpoints load, but are applied by the
            caller once per image) into the upscaling path.
        iou_prediction_use_sigmoid: IoU scores are probabilities rather than raw regressions.
        dynamic_multimask_via_stability: when one mask is asked for at inference, replace an
            unstable single-token mask with the best multimask output (used by video tracking).
        dynamic_multimask_stability_delta: logit band around 0 used to measure stability.
        dynamic_multimask_stability_thresh: stability below this triggers the fallback.
        pred_obj_scores: predict an object-presence logit from a dedicated token.
        pred_obj_scores_mlp: use a 3-layer MLP rather than a linear layer for that logit.
        use_multimask_token_for_obj_ptr: with multimask output, return the multimask tokens (not the
            single-mask token) as candidates for the object pointer.
        """
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs

        self.iou_token = nn.Embedding(1, transformer_dim)
        self.num_mask_tokens = num_multimask_outputs + 1
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, transformer_dim)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr

        # Image tokens go from stride 16 to stride 4 (64x64 -> 256x256) with two transposed convs.
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            activation(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            activation(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(transformer_dim, transformer_dim // 8, kernel_size=1, stride=1)
            self.conv_s1 = nn.Conv2d(transformer_dim, transformer_dim // 4, kernel_size=1, stride=1)

        # Each mask token is turned into the weights of a 1x1 "conv" over the upscaled image.
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim,
            iou_head_hidden_dim,
            self.num_mask_tokens,
            iou_head_depth,
            sigmoid_output=iou_prediction_use_sigmoid,
        )
        if pred_obj_scores:
            self.pred_obj_score_head = (
                MLP(transformer_dim, transformer_dim, 1, 3) if pred_obj_scores_mlp else nn.Linear(transformer_dim, 1)
            )

        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.dynamic_multimask_stability_delta = dynamic_multimask_stability_delta
        self.dynamic_multimask_stability_thresh = dynamic_multimask_stability_thresh

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
        repeat_image: bool,
        high_res_features: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode masks for B prompts.

        image_embeddings: ``1 x C x h x w`` shared by all prompts when ``repeat_image``,
            else ``B x C x h x w`` (one image per prompt).
        image_pe: ``1 x C x h x w`` (from ``PromptEncoder.get_dense_pe()``).
        sparse_prompt_embeddings: ``B x N x C`` (N may be 0).
        dense_prompt_embeddings: ``B x C x h x w`` (or batch 1, broadcast).
        multimask_output: return the ``num_multimask_outputs`` ambiguity masks instead of one.
        repeat_image: share one image embedding among all B prompts.
        high_res_features: ``[s0 1|B x C/8 x 4h x 4w, s1 1|B x C/4 x 2h x 2w]`` when
            ``use_high_res_features`` (already projected by ``conv_s0`` / ``conv_s1``).

        Returns ``(masks B x M x 4h x 4w logits, iou B x M, sam_tokens B x T x C,
        object_score_logits B x 1)``, M = 3 or 1. ``sam_tokens`` (the object-pointer source) are
        the multimask tokens (T = 3) when ``multimask_output`` and ``use_multimask_token_for_obj_ptr``,
        else the single-mask token (T = 1), which is what the tracker was trained to remember even
        when it shows multimask outputs.
        """
        masks, iou_pred, mask_tokens_out, object_score_logits = self.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=image_pe,
            sparse_prompt_embeddings=sparse_prompt_embeddings,
            dense_prompt_embeddings=dense_prompt_embeddings,
            repeat_image=repeat_image,
            high_res_features=high_res_features,
        )
        if multimask_output:
            masks, iou_pred = masks[:, 1:], iou_pred[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, iou_pred = self.select_stable_single_mask(masks, iou_pred)
        else:
            masks, iou_pred = masks[:, 0:1], iou_pred[:, 0:1]

        if multimask_output and self.use_multimask_token_for_obj_ptr:
            sam_tokens_out = mask_tokens_out[:, 1:]
        else:
            sam_tokens_out = mask_tokens_out[:, 0:1]
        return masks, iou_pred, sam_tokens_out, object_score_logits

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        repeat_image: bool,
        high_res_features: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All outputs before selection (arguments as in :meth:`forward`).

        Returns ``(masks B x (M+1) x 4h x 4w, iou B x (M+1), mask tokens B x (M+1) x C,
        object_score_logits B x 1)``; index 0 is the single-mask output.
        """
        num_prompts = sparse_prompt_embeddings.shape[0]
        # Token order matters to the checkpoints: [obj_score], iou, mask tokens, then prompts.
        learned = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            learned.insert(0, self.obj_score_token.weight)
        first = 1 if self.pred_obj_scores else 0
        output_tokens = torch.cat(learned, dim=0).unsqueeze(0).expand(num_prompts, -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

        if repeat_image:
            if image_embeddings.shape[0] != 1:
                raise ValueError("repeat_image needs a single image embedding (batch 1)")
            # A broadcast view instead of a copy per prompt; the sum below materializes it once.
            src = image_embeddings.expand(num_prompts, -1, -1, -1)
        else:
            if image_embeddings.shape[0] != num_prompts:
                raise ValueError(
                    f"image batch {image_embeddings.shape[0]} != prompt batch {num_prompts}; "
                    "pass repeat_image=True to share one image"
                )
            src = image_embeddings
        src = src + dense_prompt_embeddings
        if image_pe.shape[0] != 1:
            raise ValueError("image_pe must have batch size 1 (from PromptEncoder.get_dense_pe())")
        pos_src = image_pe.expand(num_prompts, -1, -1, -1)
        b, c, h, w = src.shape

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, first]
        mask_tokens_out = hs[:, first + 1 : first + 1 + self.num_mask_tokens]

        src = src.transpose(1, 2).reshape(b, c, h, w)
        if self.use_high_res_features:
            if high_res_features is None:
                raise ValueError("this decoder uses high-resolution features; pass [feat_s0, feat_s1]")
            deconv1, norm1, act1, deconv2, act2 = self.output_upscaling
            feat_s0, feat_s1 = high_res_features
            upscaled = act1(norm1(deconv1(src) + feat_s1))
            upscaled = act2(deconv2(upscaled) + feat_s0)
        else:
            upscaled = self.output_upscaling(src)

        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)

        iou_pred = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0])
        else:
            # Without a presence head the object is always taken as present (sigmoid(10) ~ 1).
            object_score_logits = iou_pred.new_full((iou_pred.shape[0], 1), 10.0)
        return masks, iou_pred, mask_tokens_out, object_score_logits

    def stability_scores(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """IoU between the masks thresholded at +delta and -delta: ``B x M x H x W`` -> ``B x M``.

        An empty mask (nothing above -delta) counts as perfectly stable.
        """
        flat = mask_logits.flatten(-2)
        delta = self.dynamic_multimask_stability_delta
        inner = (flat > delta).sum(dim=-1).float()
        outer = (flat > -delta).sum(dim=-1).float()
        return torch.where(outer > 0, inner / outer, 1.0)

    def select_stable_single_mask(
        self, all_mask_logits: torch.Tensor, all_iou_scores: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pick one mask per prompt: the single-mask output if stable, else the best multimask output.

        all_mask_logits: ``B x (M+1) x H x W``; all_iou_scores: ``B x (M+1)``.
        Returns ``(B x 1 x H x W, B x 1)``. Selection is done with tensor ops (no host sync).
        """
        multi_logits = all_mask_logits[:, 1:]
        multi_iou = all_iou_scores[:, 1:]
        best = torch.argmax(multi_iou, dim=-1, keepdim=True)  # B x 1
        best_logits = torch.take_along_dim(multi_logits, best[:, :, None, None], dim=1)
        best_iou = torch.take_along_dim(multi_iou, best, dim=1)

        single_logits = all_mask_logits[:, 0:1]
        single_iou = all_iou_scores[:, 0:1]
        is_stable = self.stability_scores(single_logits) >= self.dynamic_multimask_stability_thresh  # B x 1
        mask_out = torch.where(is_stable[..., None, None], single_logits, best_logits)
        iou_out = torch.where(is_stable, single_iou, best_iou)
        return mask_out, iou_out
