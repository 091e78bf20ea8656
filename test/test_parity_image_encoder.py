# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Parity of the Hiera trunk, FPN neck and image encoder with Meta's reference, plus their own behaviour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sam2  # the reference; a declared test dependency, so a missing install must fail here
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sam2.modeling.backbones.hieradet import Hiera as RefHiera
from sam2.modeling.backbones.image_encoder import FpnNeck as RefFpnNeck
from sam2.modeling.position_encoding import PositionEmbeddingSine as RefPositionEmbeddingSine

from sam2_core.modeling.hiera import DropPath, Hiera, window_partition, window_unpartition
from sam2_core.modeling.image_encoder import FpnNeck, ImageEncoder
from sam2_core.modeling.position_encoding import PositionEmbeddingSine

CONFIG_DIR = Path(sam2.__file__).parent / "configs" / "sam2.1"
# SAM 2 and SAM 2.1 YAMLs have identical image-encoder sections, so the 2.1 ones cover both.
MODELS = {
    "tiny": "sam2.1_hiera_t.yaml",
    "small": "sam2.1_hiera_s.yaml",
    "base_plus": "sam2.1_hiera_b+.yaml",
    "large": "sam2.1_hiera_l.yaml",
}

# The YAML's reference classes and ours, so the same keyword arguments build both.
OURS = {
    "sam2.modeling.backbones.image_encoder.ImageEncoder": "sam2_core.modeling.image_encoder.ImageEncoder",
    "sam2.modeling.backbones.image_encoder.FpnNeck": "sam2_core.modeling.image_encoder.FpnNeck",
    "sam2.modeling.backbones.hieradet.Hiera": "sam2_core.modeling.hiera.Hiera",
    "sam2.modeling.position_encoding.PositionEmbeddingSine": (
        "sam2_core.modeling.position_encoding.PositionEmbeddingSine"
    ),
}

ATOL = 1e-5  # max abs difference allowed against the reference (fp32, CPU); observed: exactly 0


def _encoder_config(model: str) -> dict:
    """The ``model.image_encoder`` section of an official YAML as plain Python containers."""
    cfg = OmegaConf.load(CONFIG_DIR / MODELS[model])
    return OmegaConf.to_container(cfg.model.image_encoder, resolve=True)


def _swap_targets(node):
    """Copy of a config tree with every reference ``_target_`` replaced by ours (KeyError if unknown)."""
    if isinstance(node, dict):
        return {k: OURS[v] if k == "_target_" else _swap_targets(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_swap_targets(v) for v in node]
    return node


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Perturb every parameter; the positional embeddings start at zero, so give them real values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.add_((0.5 if "pos_embed" in name else 0.02) * noise)


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _build_pair(model: str, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Reference and our image encoder from an official YAML, same random weights, both in eval mode."""
    cfg = _encoder_config(model)
    torch.manual_seed(seed)
    ref = instantiate(cfg, _convert_="all").eval()
    _randomize(ref, seed)
    ours = instantiate(_swap_targets(cfg), _convert_="all").eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _assert_outputs_match(ref_out: dict, our_out: dict) -> None:
    """Every level of every output equal to the reference within ``ATOL`` (absolute)."""
    assert set(our_out) == set(ref_out) == {"vision_features", "vision_pos_enc", "backbone_fpn"}
    torch.testing.assert_close(our_out["vision_features"], ref_out["vision_features"], rtol=0, atol=ATOL)
    for key in ("vision_pos_enc", "backbone_fpn"):
        assert len(our_out[key]) == len(ref_out[key])
        for level, (ours, ref) in enumerate(zip(our_out[key], ref_out[key])):
            assert ours.shape == ref.shape, (key, level)
            torch.testing.assert_close(ours, ref, rtol=0, atol=ATOL, msg=f"{key}[{level}]")


@pytest.fixture(scope="module")
def tiny_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    return _build_pair("tiny", seed=1)


@pytest.fixture(scope="module")
def tiny_1024_outputs(tiny_pair) -> tuple[dict, dict]:
    ref, ours = tiny_pair
    image = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        return ref(image), ours(image)


@pytest.mark.parametrize("model", list(MODELS))
def test_state_dict_matches_official_config(model: str) -> None:
    cfg = _encoder_config(model)
    ref = instantiate(cfg, _convert_="all")
    # ours is built on the meta device (no memory, no init cost), which also proves it can be
    # constructed there for fast checkpoint loading with assign=True
    with torch.device("meta"):
        ours = instantiate(_swap_targets(cfg), _convert_="all")
    assert _shapes(ours) == _shapes(ref)
    assert ours.trunk.channel_list == list(ref.trunk.channel_list)
    assert ours.scalp == ref.scalp == 1
    # spot-check key names of the official checkpoints
    keys = ours.state_dict().keys()
    for key in (
        "trunk.patch_embed.proj.weight",
        "trunk.pos_embed",
        "trunk.pos_embed_window",
        "trunk.blocks.0.attn.qkv.weight",
        "neck.convs.3.conv.bias",
    ):
        assert key in keys
    # a residual projection "trunk.blocks.{i}.proj" exists exactly in each stage's first block
    proj_blocks = sorted(int(m[1]) for k in keys if (m := re.fullmatch(r"trunk\.blocks\.(\d+)\.proj\.weight", k)))
    assert proj_blocks == [end + 1 for end in ours.trunk.stage_ends[:-1]]


def test_tiny_1024_matches_reference(tiny_1024_outputs) -> None:
    ref_out, our_out = tiny_1024_outputs
    _assert_outputs_match(ref_out, our_out)
    # scalp=1 keeps the stride-4, -8 and -16 levels; vision_features is the stride-16 one
    assert [tuple(f.shape) for f in our_out["backbone_fpn"]] == [
        (1, 256, 256, 256),
        (1, 256, 128, 128),
        (1, 256, 64, 64),
    ]
    assert our_out["vision_features"].shape == (1, 256, 64, 64)


@pytest.mark.parametrize(("batch", "size"), [(1, (256, 384)), (2, (96, 160))])
def test_tiny_other_input_sizes_match_reference(tiny_pair, batch: int, size: tuple[int, int]) -> None:
    # smaller and non-square inputs (and a batch): the windows no longer divide every stage grid
    ref, ours = tiny_pair
    image = torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        _assert_outputs_match(ref(image), ours(image))


def test_base_plus_256_matches_reference() -> None:
    # a small input keeps this cheap; it still runs every stage and pads the 14- and 7-token windows
    ref, ours = _build_pair("base_plus", seed=4)
    image = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        _assert_outputs_match(ref(image), ours(image))


def test_trunk_options_match_reference() -> None:
    # settings the official models do not use: fewer pooled stages (so one stage transition changes
    # channels without downsampling), last stage only, a non-square input
    kwargs = dict(
        embed_dim=16,
        num_heads=1,
        q_pool=2,
        stages=(1, 2, 2, 1),
        window_spec=(4, 2, 4, 2),
        global_att_blocks=(4,),
        window_pos_embed_bkg_spatial_size=(4, 4),
    )
    torch.manual_seed(6)
    ref = RefHiera(**kwargs, return_interm_layers=False).eval()
    _randomize(ref, 6)
    ours = Hiera(**kwargs, return_interm_layers=False).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert ours.channel_list == ref.channel_list == [128]
    image = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        ref_feats, our_feats = ref(image), ours(image)
    assert len(our_feats) == 1
    # q_pool=2: the last transition doubles channels but keeps the 1/16 resolution
    assert our_feats[0].shape == (2, 128, 4, 6)
    torch.testing.assert_close(our_feats[0], ref_feats[0], rtol=0, atol=ATOL)


def test_neck_bilinear_avg_matches_reference() -> None:
    channels = [64, 32, 16]
    torch.manual_seed(8)
    ref = RefFpnNeck(RefPositionEmbeddingSine(32), 32, channels, fpn_interp_model="bilinear", fuse_type="avg")
    _randomize(ref, 8)
    ours = FpnNeck(PositionEmbeddingSine(32), 32, channels, fpn_interp_model="bilinear", fuse_type="avg")
    ours.load_state_dict(ref.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(9)
    # finest first: 16 channels at 16 x 24, then 32 at 8 x 12, then 64 at 4 x 6
    feats = [torch.randn(2, c, 16 // 2**i, 24 // 2**i, generator=gen) for i, c in enumerate(channels[::-1])]
    with torch.inference_mode():
        (ref_out, ref_pos), (our_out, our_pos) = ref(feats), ours(feats)
    for ours_t, ref_t in zip(our_out + our_pos, ref_out + ref_pos):
        torch.testing.assert_close(ours_t, ref_t, rtol=0, atol=ATOL)


def test_window_partition_round_trip_with_padding() -> None:
    x = torch.randn(2, 10, 13, 3)
    windows, padded = window_partition(x, 4)
    assert padded == (12, 16) and windows.shape == (2 * 3 * 4, 4, 4, 3)
    # window (row 0, col 1) of the first image holds x[0, 0:4, 4:8]
    torch.testing.assert_close(windows[1], x[0, 0:4, 4:8], rtol=0, atol=0)
    torch.testing.assert_close(window_unpartition(windows, 4, padded, (10, 13)), x, rtol=0, atol=0)


def test_drop_path_is_identity_at_eval_and_drops_whole_samples_in_training() -> None:
    drop = DropPath(0.5)
    x = torch.ones(4000, 3, 2)
    assert drop.eval()(x) is x
    torch.manual_seed(10)
    y = drop.train()(x)
    per_sample = y.flatten(1)
    # every sample is either dropped entirely or kept and rescaled by 1 / keep
    assert bool(((per_sample == 0).all(1) | (per_sample == 2).all(1)).all())
    assert 0.45 < (per_sample[:, 0] == 0).float().mean().item() < 0.55

    trunk = Hiera(
        embed_dim=8,
        stages=(1, 1, 1, 1),
        window_spec=(2, 2, 2, 2),
        global_att_blocks=(),
        window_pos_embed_bkg_spatial_size=(2, 2),
        drop_path_rate=0.3,
    )
    # the rate rises linearly from 0 at the first block to drop_path_rate at the last
    assert isinstance(trunk.blocks[0].drop_path, torch.nn.Identity)
    assert [b.drop_path.drop_prob for b in trunk.blocks[1:]] == pytest.approx([0.1, 0.2, 0.3])


def test_image_encoder_rejects_mismatched_channels() -> None:
    trunk = Hiera(embed_dim=8, stages=(1, 1, 1, 1), window_spec=(2, 2, 2, 2), global_att_blocks=())
    neck = FpnNeck(PositionEmbeddingSine(16), 16, [64, 32, 16, 4])
    with pytest.raises(ValueError, match="do not match"):
        ImageEncoder(trunk, neck)
