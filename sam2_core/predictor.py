# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ImagePredictor: promptable single-image segmentation with a SAM 2 model (SAM2ImagePredictor's semantics)."""

from __future__ import annotations

import numpy as np
import torch

from .modeling.sam2 import SAM2Model
from .preprocess import image_to_tensor, resize_and_normalize, upsample_logits
from .prompts import PromptTensors, validate_prompt


class ImagePredictor:
    """Embed an image once with ``set_image``, then ``predict`` masks for any number of prompts."""

    def __init__(self, model: SAM2Model, mask_threshold: float = 0.0) -> None:
        self.model = model
        self.mask_threshold = mask_threshold
        self._features: torch.Tensor | None = None  # 1 x C x h x w, no-memory embedding added
        self._high_res: list[torch.Tensor] = []
        self._orig_hw: tuple[int, int] | None = None

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        """Compute the embedding of an ``H x W x 3`` uint8 RGB image."""
        model = self.model
        x = image_to_tensor(image, model.device)
        self._orig_hw = (x.shape[-2], x.shape[-1])
        feats = model.encode_image(resize_and_normalize(x, model.image_size).to(model.dtype))
        # an image is a first frame: no memory, so the learned no-memory embedding is added
        self._features = model.add_no_memory(feats.features)
        self._high_res = feats.high_res

    def reset_image(self) -> None:
        self._features, self._high_res, self._orig_hw = None, [], None

    @property
    def is_image_set(self) -> bool:
        return self._features is not None

    @torch.inference_mode()
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks for one prompt on the current image.

        point_coords: N x 2 pixel (x, y); point_labels: N (1 foreground, 0 background);
        box: 4 (x_min, y_min, x_max, y_max) pixels; mask_input: 1 x 256 x 256 logits (e.g. a
        previous ``low_res_logits``). Returns ``masks`` C x H x W (bool, or float logits with
        ``return_logits``), ``scores`` C predicted IoUs, ``low_res_logits`` C x 256 x 256
        (clamped to +-32), with C = 3 if ``multimask_output`` else 1.
        """
        if self._features is None or self._orig_hw is None:
            raise RuntimeError("no image set: call set_image(image) before predict()")
        model = self.model
        h, w = self._orig_hw
        prompt = validate_prompt(point_coords, point_labels, box, None, (h, w), require_any=False)
        pts = _to_model_points(prompt, (h, w), model.image_size, model.device)
        dense = None
        if mask_input is not None:
            m = torch.as_tensor(np.asarray(mask_input), dtype=torch.float32, device=model.device)
            if m.ndim == 2:
                m = m[None]
            size = tuple(model.sam_prompt_encoder.mask_input_size)
            if m.ndim != 3 or m.shape[0] != 1 or tuple(m.shape[1:]) != size:
                raise ValueError(f"mask_input must be 1 x {size[0]} x {size[1]} logits, got shape {tuple(m.shape)}")
            if not torch.isfinite(m).all():
                raise ValueError("mask_input contains NaN or infinite values")
            dense = m[None].to(model.dtype)
        sparse, dense_emb = model.sam_prompt_encoder(points=pts, boxes=None, masks=dense)
        low_res, ious, _, _ = model.sam_mask_decoder(
            image_embeddings=self._features,
            image_pe=model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense_emb,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=self._high_res or None,
        )
        masks = upsample_logits(low_res, (h, w))
        if not return_logits:
            masks = masks > self.mask_threshold
        low_res = torch.clamp(low_res.float(), -32.0, 32.0)
        return (
            masks[0].cpu().numpy(),
            ious[0].float().cpu().numpy(),
            low_res[0].cpu().numpy(),
        )


def _to_model_points(
    prompt: PromptTensors, hw: tuple[int, int], image_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Box corners (labels 2, 3) then points, scaled from frame pixels to model-input pixels: 1 x P x 2, 1 x P."""
    coords, labels = prompt.coords_with_box()
    if coords is None:
        return None
    h, w = hw
    scale = torch.tensor([w, h], dtype=torch.float32)
    coords = coords / scale * image_size
    return coords[None].to(device), labels[None].to(device)
