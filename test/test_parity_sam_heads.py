# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Parity of our prompt encoder, two-way transformer and mask decoder with Meta's reference (sam2==1.1.0).

Tolerance: every compared tensor must agree to max abs difference <= 1e-5 (fp32, CPU). The two
implementations compute in the same order; on torch 2.13 CPU they were observed to be bit-exact.
Selection checks (which mask the stability fallback picked) use exact equality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from sam2.modeling.sam.mask_decoder import MaskDecoder as RefMaskDecoder
from sam2.modeling.sam.prompt_encoder import PromptEncoder as RefPromptEncoder
from sam2.modeling.sam.transformer import TwoWayTransformer as RefTwoWayTransformer
from torch import nn

from sam2_core.modeling.mask_decoder import MaskDecoder
from sam2_core.modeling.prompt_encoder import PromptEncoder
from sam2_core.modeling.two_way_transformer import TwoWayTransformer

ATOL = 1e-5
EMBED_DIM = 256
IMAGE_SIZE = 1024
FEAT_SIZE = 64  # image_size // backbone stride 16

# What SAM 2 and SAM 2.1 configs (all four sizes) pass to the heads, plus the video builder's extras.
SAM2_VIDEO_FLAGS = dict(
    use_high_res_features=True,
    iou_prediction_use_sigmoid=True,
    pred_obj_scores=True,
    pred_obj_scores_mlp=True,
    use_multimask_token_for_obj_ptr=True,
    dynamic_multimask_via_stability=True,
    dynamic_multimask_stability_delta=0.05,
    dynamic_multimask_stability_thresh=0.98,
)
# Every optional feature off: SAM-1-style heads, no presence head (constant logit 10).
PLAIN_FLAGS = dict(
    use_high_res_features=False,
    iou_prediction_use_sigmoid=False,
    pred_obj_scores=False,
    pred_obj_scores_mlp=False,
    use_multimask_token_for_obj_ptr=False,
    dynamic_multimask_via_stability=False,
)
# A presence head that is a single linear layer.
LINEAR_OBJ_HEAD_FLAGS = dict(PLAIN_FLAGS, pred_obj_scores=True)


def _heads(prompt_encoder_cls, decoder_cls, transformer_cls, flags: dict) -> nn.ModuleDict:
    """Both heads under the names they have in the official checkpoints."""
    transformer = transformer_cls(depth=2, embedding_dim=EMBED_DIM, mlp_dim=2048, num_heads=8)
    return nn.ModuleDict(
        {
            "sam_prompt_encoder": prompt_encoder_cls(
                embed_dim=EMBED_DIM,
                image_embedding_size=(FEAT_SIZE, FEAT_SIZE),
                input_image_size=(IMAGE_SIZE, IMAGE_SIZE),
                mask_in_chans=16,
            ),
            "sam_mask_decoder": decoder_cls(
                num_multimask_outputs=3,
                transformer=transformer,
                transformer_dim=EMBED_DIM,
                iou_head_depth=3,
                iou_head_hidden_dim=256,
                **flags,
            ),
        }
    )


@dataclass
class Pair:
    ref: nn.ModuleDict
    ours: nn.ModuleDict
    flags: dict


def build_pair(flags: dict, tweak: Callable[[nn.ModuleDict], None] | None = None, seed: int = 0) -> Pair:
    """Reference heads with seeded random weights, and ours loaded strictly from their state dict."""
    torch.manual_seed(seed)
    ref = _heads(RefPromptEncoder, RefMaskDecoder, RefTwoWayTransformer, flags)
    # Default init leaves norms at 1/0 and embeddings unscaled; jitter everything so a swapped
    # weight/bias or a skipped parameter cannot hide.
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
        if tweak is not None:
            tweak(ref)
    torch.manual_seed(seed + 1)
    ours = _heads(PromptEncoder, MaskDecoder, TwoWayTransformer, flags)
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    ours.load_state_dict(ref_sd, strict=True)
    ref.eval()
    ours.eval()
    return Pair(ref, ours, flags)


@pytest.fixture(scope="module")
def sam2_pair() -> Pair:
    return build_pair(SAM2_VIDEO_FLAGS)


@pytest.fixture(scope="module")
def plain_pair() -> Pair:
    return build_pair(PLAIN_FLAGS)


def _image(batch: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return dict(
        embedding=torch.randn(batch, EMBED_DIM, FEAT_SIZE, FEAT_SIZE, generator=g),
        high_res=[
            torch.randn(batch, EMBED_DIM // 8, 4 * FEAT_SIZE, 4 * FEAT_SIZE, generator=g),
            torch.randn(batch, EMBED_DIM // 4, 2 * FEAT_SIZE, 2 * FEAT_SIZE, generator=g),
        ],
    )


def _points(coords: list, labels: list) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(coords, dtype=torch.float32), torch.tensor(labels, dtype=torch.int32)


def _mask(batch: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 4.0 * torch.randn(batch, 1, 4 * FEAT_SIZE, 4 * FEAT_SIZE, generator=g)


# name -> (prompt kwargs, image batch, repeat_image)
CASES = {
    "points": (
        dict(points=_points([[[100.0, 200.0], [512.0, 300.0], [900.0, 1000.0]]], [[1, 0, 1]])),
        1,
        True,
    ),
    "points_explicit_padding": (
        dict(points=_points([[[10.0, 20.0], [700.0, 650.0], [0.0, 0.0]]], [[1, 0, -1]])),
        1,
        True,
    ),
    "box": (dict(boxes=torch.tensor([[120.0, 80.0, 640.0, 720.0]])), 1, True),
    "box_and_points": (
        dict(
            points=_points([[[300.0, 400.0], [50.0, 60.0]]], [[1, 0]]),
            boxes=torch.tensor([[120.0, 80.0, 640.0, 720.0]]),
        ),
        1,
        True,
    ),
    "box_as_corner_points": (dict(points=_points([[[120.0, 80.0], [640.0, 720.0]]], [[2, 3]])), 1, True),
    "mask": (dict(masks=_mask(1)), 1, True),
    "mask_and_points": (dict(points=_points([[[333.0, 444.0]]], [[1]]), masks=_mask(1)), 1, True),
    "no_prompt": (dict(), 1, True),
    # Three objects, each with its own prompt (one padded with -1), against one image.
    "prompts_share_image": (
        dict(
            points=_points(
                [
                    [[100.0, 100.0], [200.0, 200.0]],
                    [[800.0, 300.0], [0.0, 0.0]],
                    [[512.0, 512.0], [10.0, 900.0]],
                ],
                [[1, 1], [1, -1], [1, 0]],
            ),
            masks=_mask(3),
        ),
        1,
        True,
    ),
    # Two frames/images, one prompt each (the tracker's per-object batched path).
    "one_prompt_per_image": (
        dict(points=_points([[[100.0, 100.0]], [[800.0, 300.0]]], [[1], [1]]), masks=_mask(2)),
        2,
        False,
    ),
}
PLAIN_CASES = ["points", "box_and_points", "mask", "prompts_share_image", "one_prompt_per_image"]


def _run(model: nn.ModuleDict, prompts: dict, image: dict, multimask: bool, repeat_image: bool) -> dict:
    pe_mod, dec = model["sam_prompt_encoder"], model["sam_mask_decoder"]
    sparse, dense = pe_mod(points=prompts.get("points"), boxes=prompts.get("boxes"), masks=prompts.get("masks"))
    image_pe = pe_mod.get_dense_pe()
    masks, iou, tokens, obj = dec(
        image_embeddings=image["embedding"],
        image_pe=image_pe,
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
        repeat_image=repeat_image,
        high_res_features=image["high_res"] if dec.use_high_res_features else None,
    )
    return dict(sparse=sparse, dense=dense, image_pe=image_pe, masks=masks, iou=iou, tokens=tokens, obj=obj)


def _assert_parity(ours: dict, ref: dict) -> None:
    for name, ref_value in ref.items():
        our_value = ours[name]
        assert our_value.shape == ref_value.shape, name
        assert our_value.dtype == ref_value.dtype, name
        diff = (our_value - ref_value).abs().max().item() if ref_value.numel() else 0.0
        assert diff <= ATOL, f"{name}: max abs diff {diff:.3g} > {ATOL}"


def _check_case(pair: Pair, case: str, multimask: bool) -> dict:
    prompts, image_batch, repeat_image = CASES[case]
    image = _image(image_batch)
    with torch.no_grad():
        ref = _run(pair.ref, prompts, image, multimask, repeat_image)
        ours = _run(pair.ours, prompts, image, multimask, repeat_image)
    _assert_parity(ours, ref)
    return ours


@pytest.mark.parametrize("multimask", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_sam2_settings_match_reference(sam2_pair: Pair, case: str, multimask: bool) -> None:
    out = _check_case(sam2_pair, case, multimask)
    prompts, image_batch, _ = CASES[case]
    batch = prompts["points"][0].shape[0] if "points" in prompts else max(image_batch, 1)
    num_masks = 3 if multimask else 1
    assert out["masks"].shape == (batch, num_masks, 4 * FEAT_SIZE, 4 * FEAT_SIZE)
    assert out["iou"].shape == (batch, num_masks)
    # With use_multimask_token_for_obj_ptr the pointer candidates follow the mask choice.
    assert out["tokens"].shape == (batch, num_masks, EMBED_DIM)
    assert out["obj"].shape == (batch, 1)
    assert ((out["iou"] >= 0) & (out["iou"] <= 1)).all()  # sigmoid IoU head


@pytest.mark.parametrize("multimask", [True, False])
@pytest.mark.parametrize("case", PLAIN_CASES)
def test_plain_settings_match_reference(plain_pair: Pair, case: str, multimask: bool) -> None:
    out = _check_case(plain_pair, case, multimask)
    # Single-mask token is the pointer source regardless of multimask; presence defaults to 10.
    assert out["tokens"].shape[1] == 1
    assert torch.equal(out["obj"], torch.full_like(out["obj"], 10.0))
    assert not hasattr(plain_pair.ours["sam_mask_decoder"], "conv_s0")


def test_linear_object_score_head_matches_reference() -> None:
    pair = build_pair(LINEAR_OBJ_HEAD_FLAGS)
    assert isinstance(pair.ours["sam_mask_decoder"].pred_obj_score_head, nn.Linear)
    _check_case(pair, "box_and_points", multimask=False)


def test_checkpoint_key_names(sam2_pair: Pair) -> None:
    keys = set(sam2_pair.ours.state_dict())
    expected = {
        "sam_prompt_encoder.point_embeddings.0.weight",
        "sam_prompt_encoder.point_embeddings.3.weight",
        "sam_prompt_encoder.not_a_point_embed.weight",
        "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
        "sam_prompt_encoder.mask_downscaling.0.weight",
        "sam_prompt_encoder.mask_downscaling.1.weight",
        "sam_prompt_encoder.mask_downscaling.6.bias",
        "sam_prompt_encoder.no_mask_embed.weight",
        "sam_mask_decoder.transformer.layers.0.self_attn.q_proj.weight",
        "sam_mask_decoder.transformer.layers.1.cross_attn_image_to_token.out_proj.bias",
        "sam_mask_decoder.transformer.layers.1.mlp.layers.1.weight",
        "sam_mask_decoder.transformer.layers.0.norm4.weight",
        "sam_mask_decoder.transformer.final_attn_token_to_image.v_proj.weight",
        "sam_mask_decoder.transformer.norm_final_attn.bias",
        "sam_mask_decoder.iou_token.weight",
        "sam_mask_decoder.mask_tokens.weight",
        "sam_mask_decoder.obj_score_token.weight",
        "sam_mask_decoder.output_upscaling.0.weight",
        "sam_mask_decoder.output_upscaling.1.bias",
        "sam_mask_decoder.output_upscaling.3.weight",
        "sam_mask_decoder.conv_s0.weight",
        "sam_mask_decoder.conv_s1.bias",
        "sam_mask_decoder.output_hypernetworks_mlps.3.layers.2.weight",
        "sam_mask_decoder.iou_prediction_head.layers.2.bias",
        "sam_mask_decoder.pred_obj_score_head.layers.2.weight",
    }
    assert expected <= keys, sorted(expected - keys)


def _scale_single_mask_hypernetwork(factor: float) -> Callable[[nn.ModuleDict], None]:
    """Scale mask token 0's logits: tiny logits sit inside +-delta (unstable), huge ones outside."""

    def tweak(model: nn.ModuleDict) -> None:
        last = model["sam_mask_decoder"].output_hypernetworks_mlps[0].layers[-1]
        last.weight.mul_(factor)
        last.bias.mul_(factor)

    return tweak


def _single_mask_and_candidates(model: nn.ModuleDict, case: str) -> dict:
    """Single-mask output plus the two candidates it must have been chosen from."""
    prompts, image_batch, repeat_image = CASES[case]
    image = _image(image_batch)
    pe_mod, dec = model["sam_prompt_encoder"], model["sam_mask_decoder"]
    with torch.no_grad():
        sparse, dense = pe_mod(points=prompts.get("points"), boxes=prompts.get("boxes"), masks=prompts.get("masks"))
        args = dict(
            image_embeddings=image["embedding"],
            image_pe=pe_mod.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=repeat_image,
            high_res_features=image["high_res"],
        )
        masks, iou, tokens, obj = dec(multimask_output=False, **args)
        all_masks, all_iou, all_tokens, _ = dec.predict_masks(**args)
    best = all_iou[:, 1:].argmax(dim=1) + 1  # best multimask output by predicted IoU
    rows = torch.arange(best.shape[0])
    return dict(
        masks=masks,
        iou=iou,
        tokens=tokens,
        obj=obj,
        token0_masks=all_masks[:, 0:1],
        token0_iou=all_iou[:, 0:1],
        token0=all_tokens[:, 0:1],
        best_masks=all_masks[rows, best].unsqueeze(1),
        best_iou=all_iou[rows, best].unsqueeze(1),
    )


@pytest.fixture(scope="module")
def unstable_pair() -> Pair:
    return build_pair(SAM2_VIDEO_FLAGS, tweak=_scale_single_mask_hypernetwork(1e-4))


@pytest.mark.parametrize("case", ["points", "one_prompt_per_image"])
def test_unstable_single_mask_falls_back_to_best_multimask(unstable_pair: Pair, case: str) -> None:
    thresh = SAM2_VIDEO_FLAGS["dynamic_multimask_stability_thresh"]
    ref = _single_mask_and_candidates(unstable_pair.ref, case)
    ours = _single_mask_and_candidates(unstable_pair.ours, case)
    _assert_parity(ours, ref)
    for out, stability_fn in (
        (ref, unstable_pair.ref["sam_mask_decoder"]._get_stability_scores),
        (ours, unstable_pair.ours["sam_mask_decoder"].stability_scores),
    ):
        assert (stability_fn(out["token0_masks"]) < thresh).all()
        assert not torch.equal(out["masks"], out["token0_masks"])
        assert torch.equal(out["masks"], out["best_masks"])
        assert torch.equal(out["iou"], out["best_iou"])
        # The object pointer still comes from the single-mask token, not the fallback's token.
        assert torch.equal(out["tokens"], out["token0"])


def test_fallback_is_off_in_training_mode(unstable_pair: Pair) -> None:
    prompts, image_batch, repeat_image = CASES["points"]
    eval_out = _single_mask_and_candidates(unstable_pair.ours, "points")
    try:
        unstable_pair.ref.train()
        unstable_pair.ours.train()
        with torch.no_grad():
            ref = _run(unstable_pair.ref, prompts, _image(image_batch), False, repeat_image)
            ours = _run(unstable_pair.ours, prompts, _image(image_batch), False, repeat_image)
    finally:
        unstable_pair.ref.eval()
        unstable_pair.ours.eval()
    _assert_parity(ours, ref)
    assert torch.equal(ours["masks"], eval_out["token0_masks"])


def test_stable_single_mask_is_kept() -> None:
    pair = build_pair(SAM2_VIDEO_FLAGS, tweak=_scale_single_mask_hypernetwork(1e3))
    thresh = SAM2_VIDEO_FLAGS["dynamic_multimask_stability_thresh"]
    ref = _single_mask_and_candidates(pair.ref, "points")
    ours = _single_mask_and_candidates(pair.ours, "points")
    _assert_parity(ours, ref)
    assert (pair.ours["sam_mask_decoder"].stability_scores(ours["token0_masks"]) >= thresh).all()
    assert torch.equal(ours["masks"], ours["token0_masks"])
    assert torch.equal(ours["iou"], ours["token0_iou"])


def test_stability_selection_per_prompt_matches_reference(sam2_pair: Pair) -> None:
    """A batch mixing stable, unstable and empty single masks, selected element by element."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 4, 16, 16, generator=g) * 0.01  # all inside +-delta: unstable
    logits[0, 0] = torch.where(torch.rand(16, 16, generator=g) > 0.5, 5.0, -5.0)  # stable
    logits[2, 0] = -5.0  # empty mask: stability 1 by definition
    iou = torch.rand(3, 4, generator=g)
    ours = sam2_pair.ours["sam_mask_decoder"]
    ref = sam2_pair.ref["sam_mask_decoder"]
    torch.testing.assert_close(ours.stability_scores(logits), ref._get_stability_scores(logits), rtol=0, atol=0)
    our_masks, our_iou = ours.select_stable_single_mask(logits, iou)
    ref_masks, ref_iou = ref._dynamic_multimask_via_stability(logits, iou)
    assert torch.equal(our_masks, ref_masks) and torch.equal(our_iou, ref_iou)
    best = iou[1, 1:].argmax() + 1
    assert torch.equal(our_masks[:, 0], torch.stack([logits[0, 0], logits[1, best], logits[2, 0]]))


def test_prompt_labels_match_reference(sam2_pair: Pair) -> None:
    """Every label value, including one the model does not know (kept as bare positional encoding)."""
    coords, labels = _points(
        [[[1.0, 2.0], [30.0, 40.0], [500.0, 600.0], [1000.0, 5.0], [7.0, 8.0], [9.0, 9.0]]],
        [[-1, 0, 1, 2, 3, 7]],
    )
    with torch.no_grad():
        for pad in (True, False):
            ours = sam2_pair.ours["sam_prompt_encoder"]._embed_points(coords, labels, pad=pad)
            ref = sam2_pair.ref["sam_prompt_encoder"]._embed_points(coords, labels, pad=pad)
            torch.testing.assert_close(ours, ref, rtol=0, atol=ATOL)


def test_shape_errors(sam2_pair: Pair) -> None:
    pe_mod, dec = sam2_pair.ours["sam_prompt_encoder"], sam2_pair.ours["sam_mask_decoder"]
    sparse, dense = pe_mod(points=_points([[[1.0, 1.0]], [[2.0, 2.0]]], [[1], [1]]), boxes=None, masks=None)
    image = _image(2)
    kwargs = dict(
        image_pe=pe_mod.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    with pytest.raises(ValueError, match="repeat_image"):
        dec(
            image_embeddings=image["embedding"],
            repeat_image=True,
            high_res_features=image["high_res"],
            **kwargs,
        )
    with pytest.raises(ValueError, match="prompt batch"):
        dec(
            image_embeddings=image["embedding"][:1],
            repeat_image=False,
            high_res_features=image["high_res"],
            **kwargs,
        )
    with pytest.raises(ValueError, match="high-resolution"):
        dec(image_embeddings=image["embedding"], repeat_image=False, high_res_features=None, **kwargs)
