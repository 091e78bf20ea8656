# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""AutomaticMaskGenerator: everything in an image segmented from a grid of clicks (SAM2AutomaticMaskGenerator)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import mask_ops
from .modeling.sam2 import SAM2Model
from .postprocess import small_regions
from .preprocess import check_frame, image_to_tensor, resize_and_normalize, upsample_logits

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")
# logit offset given to filled holes (+) and removed specks (-), as the reference's image predictor
_REGION_FIX_LOGIT = 10.0


@dataclass
class _Masks:
    """Masks kept so far (K of them), with what the output records need. Tensors on the model's device."""

    rles: list[dict[str, Any]]
    boxes: torch.Tensor  # K x 4 int64, inclusive (x_min, y_min, x_max, y_max), image coordinates once uncropped
    iou_preds: torch.Tensor  # K float32
    points: torch.Tensor  # K x 2 float32, the click (x, y)
    stability: torch.Tensor  # K float32
    crop_boxes: torch.Tensor  # K x 4 int64, the crop each mask came from

    @staticmethod
    def empty(device: torch.device) -> _Masks:
        z = torch.zeros
        return _Masks(
            [], z(0, 4, dtype=torch.int64, device=device), z(0, device=device), z(0, 2, device=device),
            z(0, device=device), z(0, 4, dtype=torch.int64, device=device),
        )  # fmt: skip

    def select(self, index: torch.Tensor) -> _Masks:
        """The rows ``index`` (int64 positions or a bool mask), in that order."""
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        rows = index.tolist()
        return _Masks(
            [self.rles[i] for i in rows],
            self.boxes[index],
            self.iou_preds[index],
            self.points[index],
            self.stability[index],
            self.crop_boxes[index],
        )

    @staticmethod
    def concat(parts: list[_Masks], device: torch.device) -> _Masks:
        if not parts:
            return _Masks.empty(device)
        return _Masks(
            [r for p in parts for r in p.rles],
            torch.cat([p.boxes for p in parts]),
            torch.cat([p.iou_preds for p in parts]),
            torch.cat([p.points for p in parts]),
            torch.cat([p.stability for p in parts]),
            torch.cat([p.crop_boxes for p in parts]),
        )


class AutomaticMaskGenerator:
    """Masks for everything in an image: a grid of single clicks, filtered, de-duplicated, over crops.

    The semantics of Meta's ``SAM2AutomaticMaskGenerator`` (sam2 1.1.0), argument for argument:

    - model: a ``SAM2Model`` (``build_model``); its device and dtype are used.
    - points_per_side: clicks per side of the grid (``points_per_side**2`` per crop layer 0);
      None when ``point_grids`` gives them instead (exactly one of the two).
    - points_per_batch: clicks decoded together (one mask-decoder pass each; more is faster and
      needs more memory).
    - pred_iou_thresh: keep masks whose predicted IoU is above it (0 = no filter).
    - stability_score_thresh, stability_score_offset: keep masks whose IoU between the mask
      thresholded at ``mask_threshold +- offset`` is at least the threshold (0 = no filter).
    - mask_threshold: logit above which a pixel is in the mask.
    - box_nms_thresh: box IoU above which the lower-scoring of two masks of one crop is dropped.
    - crop_n_layers, crop_overlap_ratio, crop_n_points_downscale_factor: with ``crop_n_layers``
      > 0 the image is also segmented in 2**i x 2**i overlapping crops for layers i = 1..n (one
      image-encoder pass per crop), with ``points_per_side / factor**i`` clicks per side; masks
      touching a crop border inside the image are dropped, and ``crop_nms_thresh`` removes
      duplicates between crops, preferring masks from smaller crops.
    - point_grids: one ``N x 2`` array of (x, y) in [0, 1] per crop layer.
    - min_mask_region_area: > 0 fills background holes and removes foreground specks of at most
      this many pixels of the low-resolution masks (image_size / 4 per side) before upsampling,
      as the reference's image predictor does with its CUDA extension (here on any device, with
      the same 8-connected rule as the tracker's hole filling).
    - output_mode: "binary_mask" (``H x W`` bool arrays), "uncompressed_rle" or "coco_rle"
      (COCO's compressed RLE; needs pycocotools).
    - use_m2m: refine every mask once with its own low-resolution logits as a mask prompt.
    - multimask_output: three candidate masks per click (else one).

    ``generate(image)`` takes an ``H x W x 3`` uint8 RGB image and returns one dict per mask, in
    the reference's order: ``segmentation``, ``area`` (pixels), ``bbox`` (x, y, w, h of the
    inclusive box, so a one-pixel mask has w = h = 0), ``predicted_iou``, ``point_coords``
    (``[[x, y]]``, the click), ``stability_score`` and ``crop_box`` (x, y, w, h). Work runs on the
    model's device in batches of ``points_per_batch``; torchvision is not needed.
    """

    def __init__(
        self,
        model: SAM2Model,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float = 0.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
    ) -> None:
        _check_settings(locals())
        if points_per_side is not None:
            grids = mask_ops.layer_point_grids(points_per_side, crop_n_layers, crop_n_points_downscale_factor)
        else:
            grids = [np.asarray(g, dtype=np.float64) for g in point_grids]
        self.model = model
        self.point_grids = grids
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        self.mask_threshold = float(mask_threshold)
        self.box_nms_thresh = float(box_nms_thresh)
        self.crop_n_layers = int(crop_n_layers)
        self.crop_nms_thresh = float(crop_nms_thresh)
        self.crop_overlap_ratio = float(crop_overlap_ratio)
        self.min_mask_region_area = int(min_mask_region_area)
        self.output_mode = output_mode
        self.use_m2m = bool(use_m2m)
        self.multimask_output = bool(multimask_output)

    # ------------------------------------------------------------------ the whole image
    @torch.inference_mode()
    def generate(self, image: np.ndarray | torch.Tensor) -> list[dict[str, Any]]:
        """Every mask found in an ``H x W x 3`` uint8 RGB image, as records (see the class docstring)."""
        height, width = check_frame(image)
        device = self.model.device
        pixels = image_to_tensor(image, device)  # 1 x 3 x H x W in [0, 1]
        boxes, layers = mask_ops.crop_boxes((height, width), self.crop_n_layers, self.crop_overlap_ratio)
        found = _Masks.concat(
            [self._crop_masks(pixels, box, layer, (height, width)) for box, layer in zip(boxes, layers)], device
        )
        if len(boxes) > 1:
            # duplicates between crops: the mask from the smaller crop wins
            keep = mask_ops.box_nms(found.boxes.float(), 1 / mask_ops.box_area(found.crop_boxes), self.crop_nms_thresh)
            found = found.select(keep)
        return self._records(found)

    def _records(self, found: _Masks) -> list[dict[str, Any]]:
        boxes = mask_ops.box_xyxy_to_xywh(found.boxes.float()).cpu().numpy()
        crops = mask_ops.box_xyxy_to_xywh(found.crop_boxes.float()).cpu().numpy()
        ious, stability = found.iou_preds.float().cpu().numpy(), found.stability.float().cpu().numpy()
        points = found.points.float().cpu().numpy()
        records = []
        for i, rle in enumerate(found.rles):
            if self.output_mode == "binary_mask":
                segmentation: Any = mask_ops.rle_to_mask(rle)
            elif self.output_mode == "coco_rle":
                segmentation = mask_ops.coco_rle(rle)
            else:
                segmentation = rle
            records.append(
                {
                    "segmentation": segmentation,
                    "area": mask_ops.rle_area(rle),
                    "bbox": boxes[i].tolist(),
                    "predicted_iou": ious[i].item(),
                    "point_coords": [points[i].tolist()],
                    "stability_score": stability[i].item(),
                    "crop_box": crops[i].tolist(),
                }
            )
        return records

    # ------------------------------------------------------------------ one crop
    def _crop_masks(self, pixels: torch.Tensor, crop_box: list[int], layer: int, image_hw: tuple[int, int]) -> _Masks:
        """Masks of one crop (one image-encoder pass), de-duplicated, in image coordinates."""
        model = self.model
        x0, y0, x1, y1 = crop_box
        crop = pixels[..., y0:y1, x0:x1]
        crop_hw = (y1 - y0, x1 - x0)
        feats = model.encode_image(resize_and_normalize(crop, model.image_size).to(model.dtype))
        embedding = _CropEmbedding(model, model.add_no_memory(feats.features), feats.high_res, crop_hw)
        # clicks in crop pixels, computed in float64 and then stored as float32, as the reference does
        grid = self.point_grids[layer] * np.array(crop_hw[::-1], dtype=np.float64)[None]
        points = torch.as_tensor(grid, dtype=torch.float32, device=model.device)
        batches = [
            self._batch_masks(embedding, points[i : i + self.points_per_batch], crop_box, image_hw)
            for i in range(0, len(points), self.points_per_batch)
        ]
        found = _Masks.concat(batches, model.device)
        keep = mask_ops.box_nms(found.boxes.float(), found.iou_preds, self.box_nms_thresh)
        found = found.select(keep)
        found.boxes = mask_ops.uncrop_boxes(found.boxes, crop_box)
        found.points = mask_ops.uncrop_points(found.points, crop_box)
        crops = torch.tensor([crop_box] * len(found.rles), dtype=torch.int64, device=model.device)
        found.crop_boxes = crops.view(-1, 4)
        return found

    def _batch_masks(
        self, embedding: _CropEmbedding, points: torch.Tensor, crop_box: list[int], image_hw: tuple[int, int]
    ) -> _Masks:
        """Decode, filter and encode the masks of one batch of clicks ``P x 2`` (crop pixels)."""
        low_res, ious = embedding.decode(points, None, self.multimask_output)
        per_point = low_res.shape[1]
        low_res, ious = low_res.flatten(0, 1), ious.flatten(0, 1)  # (P * M) x m x m, P * M
        points = points.repeat_interleave(per_point, dim=0)
        if self.use_m2m:
            # every candidate is refined with its own logits as the mask prompt (single-mask output),
            # in batches of points_per_batch candidates
            prompts = torch.clamp(low_res, -32.0, 32.0)  # the logits the reference hands back for reuse
            refined = [
                embedding.decode(points[i : i + self.points_per_batch], prompts[i : i + self.points_per_batch], False)
                for i in range(0, len(points), self.points_per_batch)
            ]
            low_res = torch.cat([r[0][:, 0] for r in refined])
            ious = torch.cat([r[1][:, 0] for r in refined])
        keep = torch.ones_like(ious, dtype=torch.bool)
        if self.pred_iou_thresh > 0.0:
            keep = ious > self.pred_iou_thresh
        # the masks are upsampled only once the IoU filter has spoken (each mask is independent)
        low_res, ious, points = low_res[keep], ious[keep], points[keep]
        logits = embedding.upsample(low_res, self.min_mask_region_area)
        stability = mask_ops.stability_score(logits, self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            keep = stability >= self.stability_score_thresh
            logits, ious, points, stability = logits[keep], ious[keep], points[keep], stability[keep]
        masks = logits > self.mask_threshold
        del logits
        boxes = mask_ops.masks_to_boxes(masks)
        height, width = image_hw
        keep = ~mask_ops.near_crop_edge(boxes, crop_box, [0, 0, width, height])
        masks, boxes, ious, points, stability = masks[keep], boxes[keep], ious[keep], points[keep], stability[keep]
        rles = mask_ops.masks_to_rle(mask_ops.uncrop_masks(masks, crop_box, height, width))
        no_crops = torch.zeros(len(rles), 4, dtype=torch.int64, device=boxes.device)
        return _Masks(rles, boxes, ious.float(), points, stability.float(), no_crops)


def _is_count(value: Any, low: int) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low


def _check_settings(s: dict[str, Any]) -> None:
    """ValueError (ImportError for a missing pycocotools) naming the first unusable constructor argument."""
    if (s["points_per_side"] is None) == (s["point_grids"] is None):
        raise ValueError("give exactly one of points_per_side and point_grids")
    counts = {"points_per_batch": 1, "crop_n_layers": 0, "crop_n_points_downscale_factor": 1, "min_mask_region_area": 0}
    if s["points_per_side"] is not None:
        counts["points_per_side"] = 1
    for name, low in counts.items():
        if not _is_count(s[name], low):
            raise ValueError(f"{name} must be an integer >= {low}, got {s[name]!r}")
    if s["point_grids"] is not None:
        grids = s["point_grids"]
        if len(grids) < s["crop_n_layers"] + 1:
            raise ValueError(f"point_grids has {len(grids)} grid(s); crop_n_layers={s['crop_n_layers']} needs more")
        for i, grid in enumerate(grids):
            grid = np.asarray(grid, dtype=np.float64)
            if grid.ndim != 2 or grid.shape[1] != 2 or not np.isfinite(grid).all():
                raise ValueError(f"point_grids[{i}] must be an N x 2 array of finite (x, y), got shape {grid.shape}")
    for name in ("pred_iou_thresh", "stability_score_thresh", "stability_score_offset", "mask_threshold",
                 "box_nms_thresh", "crop_nms_thresh", "crop_overlap_ratio"):  # fmt: skip
        value = s[name]
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if s["output_mode"] not in OUTPUT_MODES:
        raise ValueError(f"unknown output_mode {s['output_mode']!r}; expected one of {', '.join(OUTPUT_MODES)}")
    if s["output_mode"] == "coco_rle":
        try:
            import pycocotools.mask  # noqa: F401
        except ImportError as error:
            raise ImportError("output_mode 'coco_rle' needs pycocotools (pip install pycocotools)") from error


class _CropEmbedding:
    """One crop's image features and the decoder calls on them (the reference image predictor's ``_predict``)."""

    def __init__(self, model: SAM2Model, features: torch.Tensor, high_res: list[torch.Tensor], crop_hw) -> None:
        self.model = model
        self.features = features  # 1 x C x h x w, no-memory embedding added
        self.high_res = high_res
        self.crop_hw = crop_hw
        h, w = crop_hw
        self._scale = torch.tensor([w, h], dtype=torch.float32, device=model.device)

    def decode(
        self, points: torch.Tensor, mask_logits: torch.Tensor | None, multimask: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Single foreground clicks ``B x 2`` (crop pixels), optional mask prompts ``B x m x m`` logits ->
        (``B x M x m x m`` float32 low-resolution logits, ``B x M`` float32 predicted IoUs)."""
        model = self.model
        coords = (points / self._scale * model.image_size)[:, None]  # B x 1 x 2 model-input pixels
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int32, device=coords.device)
        dense_in = None if mask_logits is None else mask_logits[:, None].to(model.dtype)
        sparse, dense = model.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=dense_in)
        low_res, ious, _, _ = model.sam_mask_decoder(
            image_embeddings=self.features,
            image_pe=model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=True,
            high_res_features=self.high_res or None,
        )
        return low_res.float(), ious.float()

    def upsample(self, low_res: torch.Tensor, max_region_area: int) -> torch.Tensor:
        """``K x m x m`` logits -> ``K x h x w`` crop-sized logits, small holes and specks fixed first.

        The region rules use threshold 0 whatever ``mask_threshold`` is: the reference's generator
        leaves its image predictor at its default threshold.
        """
        logits = low_res[:, None]
        if max_region_area > 0:
            holes = small_regions(logits <= 0.0, max_region_area)
            specks = small_regions(logits > 0.0, max_region_area)
            logits = torch.where(holes, _REGION_FIX_LOGIT, torch.where(specks, -_REGION_FIX_LOGIT, logits))
        return upsample_logits(logits, self.crop_hw)[:, 0]
