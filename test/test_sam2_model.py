# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM2Model's per-step functions against the reference SAM2Base methods they mirror.

Reduced input size (256) for speed: both models are built at that size from one state dict.
Tolerance: 1e-5 absolute unless stated (same ops, same order, fp32 CPU).
"""

from __future__ import annotations

import pytest
import torch
from reference import reference_video_model

from sam2_core import build_model

S = 256


@pytest.fixture(scope="module", params=["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def models(request, checkpoint_dir):
    name = request.param
    ref = reference_video_model(name, seed=5, image_size=S)
    path = f"{checkpoint_dir}/model-{name}-{S}.pt"
    torch.save({"model": ref.state_dict()}, path)
    ours = build_model(name, checkpoint=path, image_size=S)
    torch.manual_seed(0)
    x = torch.randn(2, 3, S, S)
    with torch.inference_mode():
        feats = ours.encode_image(x)
        ref_out = ref.forward_image(x)
    return ours, ref, feats, ref_out


def close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


def test_encode_image_equals_forward_image(models):
    _, _, feats, ref_out = models
    close(feats.features, ref_out["backbone_fpn"][-1])
    close(feats.pos, ref_out["vision_pos_enc"][-1])
    for got, want in zip(feats.high_res, ref_out["backbone_fpn"][:2]):  # conv_s0 / conv_s1 applied
        close(got, want)


def _ref_features(ref, ref_out):
    _, vision, pos, sizes = ref._prepare_backbone_features(ref_out)
    return vision, pos, sizes


@pytest.mark.parametrize("multimask", [True, False])
@pytest.mark.parametrize("with_mask", [False, True])
def test_sam_heads_equal_forward_sam_heads(models, multimask, with_mask):
    ours, ref, feats, ref_out = models
    torch.manual_seed(1)
    pts = torch.rand(2, 3, 2) * S
    labels = torch.tensor([[1, 0, 1], [1, 1, -1]], dtype=torch.int32)
    mask_in = torch.randn(2, 1, S, S) * 5 if with_mask else None
    base = ours.add_no_memory(feats.features)
    with torch.inference_mode():
        got = ours.sam_heads(base, feats.high_res, pts, labels, mask_in, multimask)
        want = ref._forward_sam_heads(
            backbone_features=base,
            point_inputs={"point_coords": pts, "point_labels": labels},
            mask_inputs=mask_in,
            high_res_features=feats.high_res,
            multimask_output=multimask,
        )
    names = [
        "low_res_multimasks",
        "high_res_multimasks",
        "ious",
        "low_res_masks",
        "high_res_masks",
        "obj_ptr",
        "object_score_logits",
    ]
    for name, w in zip(names, want):
        close(getattr(got, name), w, atol=1e-4)


def test_mask_as_output_equals_reference(models):
    ours, ref, feats, _ = models
    masks = torch.zeros(2, 1, S, S)
    masks[0, :, 40:120, 60:200] = 1.0  # second object: empty mask (absent)
    with torch.inference_mode():
        got = ours.mask_as_output(feats.features, feats.high_res, masks)
        want = ref._use_mask_as_output(feats.features, feats.high_res, masks)
    for name, w in zip(
        ["low_res_masks", "high_res_masks", "ious", "obj_ptr", "object_score_logits"],
        [want[0], want[1], want[2], want[5], want[6]],
    ):
        close(getattr(got, name), w, atol=1e-4)
    assert got.object_score_logits[1].item() < 0 < got.object_score_logits[0].item()


@pytest.mark.parametrize("from_points", [True, False])
def test_encode_memory_equals_encode_new_memory(models, from_points):
    ours, ref, feats, ref_out = models
    vision, _, sizes = _ref_features(ref, ref_out)
    torch.manual_seed(2)
    high = torch.randn(2, 1, S, S) * 8
    scores = torch.tensor([[3.0], [-2.0]])
    with torch.inference_mode():
        mem, pos = ours.encode_memory(feats.features, high, scores, from_points)
        rmem, rpos = ref._encode_new_memory(vision, sizes, high, scores, is_mask_from_pts=from_points)
    close(mem, rmem)
    close(pos, rpos[-1])


def test_per_object_binarization_mixes_both_rules(models):
    ours, _, feats, _ = models
    high = torch.randn(2, 1, S, S) * 8
    scores = torch.ones(2, 1)
    with torch.inference_mode():
        mixed, _ = ours.encode_memory(feats.features, high, scores, torch.tensor([True, False]))
        hard, _ = ours.encode_memory(feats.features, high, scores, True)
        soft, _ = ours.encode_memory(feats.features, high, scores, False)
    close(mixed[0], hard[0])
    close(mixed[1], soft[1])


def test_pointer_time_encoding(models):
    ours, _, _, _ = models
    offsets = torch.tensor([3, 1, 2, -4])
    enc = ours.pointer_time_encoding(offsets, 16)
    assert enc.shape == (4, ours.mem_dim)
    if ours.config.add_tpos_enc_to_obj_ptrs:
        from sam2.modeling.sam2_utils import get_1d_sine_pe

        want = ours.obj_ptr_tpos_proj(get_1d_sine_pe(offsets.float() / 15, dim=ours.hidden_dim))
        close(enc, want)
    else:
        assert torch.count_nonzero(enc) == 0
