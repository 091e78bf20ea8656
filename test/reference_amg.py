# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Meta's SAM2AutomaticMaskGenerator (sam2==1.1.0) made importable here: stand-ins for what it takes from torchvision.

The reference imports ``torchvision.ops.boxes`` (batched_nms, box_area) and, through its image
predictor, ``torchvision.transforms`` (ToTensor, Resize, Normalize); torchvision cannot be
imported next to this machine's CPU torch. ``reference_modules()`` puts small stand-ins, written
from torchvision's documented behaviour (its NMS kernel ranks boxes with a plain, non-stable
``scores.sort(descending=True)`` and drops boxes with IoU > threshold; batched_nms goes
per-category above 4,000 coordinates on the CPU; Resize of a tensor is antialiased bilinear),
into ``sys.modules`` for the duration of a ``with`` block. ``connected_components_module()`` is a
stand-in for the reference's CUDA extension ``sam2._C`` (8-connected components with OpenCV),
so its small-region post-processing runs on the CPU too instead of being skipped.

``reference_nano_model()`` builds the project's trained sam2.1_hiera_nano from the reference's
own modules (its tiny config with the nano's widths as Hydra overrides; the SAM heads, whose
widths the reference hard-codes, rebuilt from its MaskDecoder and TwoWayTransformer classes) and
loads the bundled checkpoint strictly, so the generators can be compared on real masks.

These stand-ins are deliberately simple loops, independent of sam2_core.mask_ops, so a mistake
in one is not repeated in the other.
"""

from __future__ import annotations

import contextlib
import sys
import types

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# modules that bind the stand-ins at import time: dropped before and after, so nothing leaks
_BINDERS = ("sam2.automatic_mask_generator", "sam2.sam2_image_predictor", "sam2.utils.transforms")


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    order = scores.sort(0, descending=True)[1].tolist()
    b = boxes.tolist()
    area = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in b]
    area = torch.tensor(area, dtype=boxes.dtype).tolist()  # rounded as the kernel's float math
    suppressed = [False] * len(order)
    keep = []
    f32 = np.float32
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[rank + 1 :]:
            if suppressed[j]:
                continue
            w = max(f32(0), f32(min(b[i][2], b[j][2])) - f32(max(b[i][0], b[j][0])))
            h = max(f32(0), f32(min(b[i][3], b[j][3])) - f32(max(b[i][1], b[j][1])))
            inter = f32(w) * f32(h)
            with np.errstate(invalid="ignore", divide="ignore"):
                ovr = inter / (f32(area[i]) + f32(area[j]) - inter)
            if ovr > iou_threshold:
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64)
    if boxes.numel() <= 4000:  # the coordinate trick: one NMS over offset boxes
        offsets = idxs.to(boxes) * (boxes.max() + 1)
        return _nms(boxes + offsets[:, None], scores, iou_threshold)
    keep_mask = torch.zeros_like(scores, dtype=torch.bool)
    for category in torch.unique(idxs):
        members = torch.where(idxs == category)[0]
        keep_mask[members[_nms(boxes[members], scores[members], iou_threshold)]] = True
    kept = torch.where(keep_mask)[0]
    return kept[scores[kept].sort(descending=True)[1]]


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


class ToTensor:
    def __call__(self, pic: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(pic.transpose(2, 0, 1))).float().div(255)


class Resize(nn.Module):
    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = [int(size[0]), int(size[1])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x[None], size=self.size, mode="bilinear", align_corners=False, antialias=True)[0]


class Normalize(nn.Module):
    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _torchvision_modules() -> dict[str, types.ModuleType]:
    root = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    boxes = types.ModuleType("torchvision.ops.boxes")
    transforms = types.ModuleType("torchvision.transforms")
    boxes.batched_nms, boxes.box_area = batched_nms, box_area
    ops.boxes, ops.batched_nms, ops.box_area = boxes, batched_nms, box_area
    transforms.ToTensor, transforms.Resize, transforms.Normalize = ToTensor, Resize, Normalize
    root.ops, root.transforms = ops, transforms
    return {
        "torchvision": root,
        "torchvision.ops": ops,
        "torchvision.ops.boxes": boxes,
        "torchvision.transforms": transforms,
    }


def connected_components_module() -> types.ModuleType:
    """``sam2._C`` look-alike: ``get_connected_componnets`` (sic) of N x 1 x H x W uint8 masks."""

    def get_connected_componnets(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.zeros(mask.shape, dtype=torch.int32)
        counts = torch.zeros(mask.shape, dtype=torch.int32)
        for n in range(mask.shape[0]):
            m = mask[n, 0].numpy().astype(np.uint8)
            count, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
            area = stats[:, cv2.CC_STAT_AREA].copy()
            area[0] = 0
            labels[n, 0] = torch.from_numpy(lab.astype(np.int32))
            counts[n, 0] = torch.from_numpy(area[lab].astype(np.int32))
        return labels, counts

    module = types.ModuleType("sam2._C")
    module.get_connected_componnets = get_connected_componnets
    return module


@contextlib.contextmanager
def reference_modules():
    """Inside: ``from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator`` works."""
    import sam2

    saved = {name: sys.modules.get(name) for name in [*_torchvision_modules(), *_BINDERS, "sam2._C"]}
    had_c = hasattr(sam2, "_C")
    try:
        for name in _BINDERS:
            sys.modules.pop(name, None)
        sys.modules.update(_torchvision_modules())
        sys.modules["sam2._C"] = connected_components_module()
        sam2._C = sys.modules["sam2._C"]
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        if not had_c:
            del sam2._C


def reference_nano_model(checkpoint: str | None = None):
    """Meta's SAM2Base (image builder settings) with the nano's architecture, loaded strictly from ``checkpoint``
    (default: the bundled nano checkpoint), in eval mode on the CPU."""
    from sam2.build_sam import build_sam2
    from sam2.modeling.sam.mask_decoder import MaskDecoder
    from sam2.modeling.sam.transformer import TwoWayTransformer

    from sam2_core import bundled_checkpoint
    from sam2_core.config import NANO_MODEL_NAME, get_config

    cfg = get_config(NANO_MODEL_NAME)
    hiera, d, m, feat = cfg.hiera, cfg.d_model, cfg.mem_dim, cfg.image_size // 16

    def seq(values) -> str:
        return "[" + ",".join(str(v) for v in values) + "]"

    trunk, neck, attn, enc = (
        "model.image_encoder.trunk",
        "model.image_encoder.neck",
        "model.memory_attention",
        "model.memory_encoder",
    )
    settings = {
        "model.image_size": cfg.image_size,
        f"{trunk}.embed_dim": hiera.embed_dim,
        f"{trunk}.num_heads": hiera.num_heads,
        f"{trunk}.stages": seq(hiera.stages),
        f"{trunk}.global_att_blocks": seq(hiera.global_att_blocks),
        f"{trunk}.window_pos_embed_bkg_spatial_size": seq(hiera.window_pos_embed_bkg_spatial_size),
        f"{trunk}.window_spec": seq(hiera.window_spec),
        f"{neck}.d_model": d,
        f"{neck}.backbone_channel_list": seq(hiera.channel_list),
        f"{neck}.position_encoding.num_pos_feats": d,
        f"{attn}.d_model": d,
        f"{attn}.num_layers": cfg.memory_attention_layers,
        f"{attn}.layer.d_model": d,
        f"{attn}.layer.dim_feedforward": cfg.memory_attention_ffn_dim,
        f"{attn}.layer.self_attention.embedding_dim": d,
        f"{attn}.layer.self_attention.feat_sizes": seq((feat, feat)),
        f"{attn}.layer.cross_attention.embedding_dim": d,
        f"{attn}.layer.cross_attention.feat_sizes": seq((feat, feat)),
        f"{attn}.layer.cross_attention.kv_in_dim": m,
        f"{enc}.out_dim": m,
        f"{enc}.in_dim": d,
        f"{enc}.mask_downsampler.embed_dim": d,
        f"{enc}.fuser.layer.dim": d,
        f"{enc}.position_encoding.num_pos_feats": m,
    }
    overrides = [f"++{key}={value}" for key, value in settings.items()]
    model = build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", None, device="cpu", hydra_overrides_extra=overrides)
    model.sam_mask_decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(
            depth=2, embedding_dim=d, mlp_dim=cfg.decoder_mlp_dim, num_heads=cfg.decoder_num_heads
        ),
        transformer_dim=d,
        iou_head_depth=3,
        iou_head_hidden_dim=cfg.iou_head_hidden_dim,
        use_high_res_features=model.use_high_res_features_in_sam,
        iou_prediction_use_sigmoid=model.iou_prediction_use_sigmoid,
        pred_obj_scores=model.pred_obj_scores,
        pred_obj_scores_mlp=model.pred_obj_scores_mlp,
        use_multimask_token_for_obj_ptr=model.use_multimask_token_for_obj_ptr,
        **(model.sam_mask_decoder_extra_args or {}),
    )
    state = torch.load(checkpoint or bundled_checkpoint(NANO_MODEL_NAME), map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"], strict=True)
    return model.eval()


def reference_generator(model, image_size: int, **kwargs):
    """Meta's SAM2AutomaticMaskGenerator on a reference model built at ``image_size`` (call inside reference_modules()).

    Its image predictor hard-codes the 1024-pixel feature sizes; they are set for ``image_size``.
    """
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    generator = SAM2AutomaticMaskGenerator(model, **kwargs)
    generator.predictor._bb_feat_sizes = [(image_size // 4, image_size // 4), (image_size // 8,) * 2,
                                          (image_size // 16,) * 2]  # fmt: skip
    return generator
