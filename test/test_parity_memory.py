# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Parity of memory attention and memory encoder with Meta's reference, plus the padding-mask path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sam2  # the reference; a declared test dependency, so a missing install must fail here
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sam2.modeling.memory_encoder import CXBlock as RefCXBlock
from sam2.modeling.memory_encoder import Fuser as RefFuser

from sam2_core.modeling.memory_encoder import CXBlock, Fuser, MemoryEncoder

TINY_YAML = Path(sam2.__file__).parent / "configs" / "sam2.1" / "sam2.1_hiera_t.yaml"

# The YAML's reference classes and ours, so the same keyword arguments build both.
_REF, _OURS = "sam2.modeling.", "sam2_core.modeling."
OURS = {
    _REF + "memory_attention.MemoryAttention": _OURS + "memory_attention.MemoryAttention",
    _REF + "memory_attention.MemoryAttentionLayer": _OURS + "memory_attention.MemoryAttentionLayer",
    _REF + "sam.transformer.RoPEAttention": _OURS + "attention.RoPEAttention",
    _REF + "memory_encoder.MemoryEncoder": _OURS + "memory_encoder.MemoryEncoder",
    _REF + "memory_encoder.MaskDownSampler": _OURS + "memory_encoder.MaskDownSampler",
    _REF + "memory_encoder.Fuser": _OURS + "memory_encoder.Fuser",
    _REF + "memory_encoder.CXBlock": _OURS + "memory_encoder.CXBlock",
    _REF + "position_encoding.PositionEmbeddingSine": _OURS + "position_encoding.PositionEmbeddingSine",
}

ATOL = 1e-5  # max abs difference allowed against the reference (fp32, CPU)


def _swap_targets(node):
    """Copy of a config tree with every reference ``_target_`` replaced by ours (KeyError if unknown)."""
    if isinstance(node, dict):
        return {k: OURS[v] if k == "_target_" else _swap_targets(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_swap_targets(v) for v in node]
    return node


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Perturb every parameter so no layer is an identity (layer-scale gammas start at 1e-6)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith("gamma"):
                p.copy_(0.5 * noise)
            else:
                p.add_(0.05 * noise)


def _build_pair(section: str, grid: int | None = None, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Reference and our module from the tiny YAML section, same random weights, both in eval mode."""
    cfg = OmegaConf.to_container(OmegaConf.load(TINY_YAML).model[section])
    if grid is not None:
        for attn in ("self_attention", "cross_attention"):
            cfg["layer"][attn]["feat_sizes"] = [grid, grid]
    torch.manual_seed(seed)
    ref = instantiate(cfg).eval()
    _randomize(ref, seed)
    ours = instantiate(_swap_targets(cfg)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _attention_inputs(grid: int, batch: int, frames: int, ptr_tokens: int, seed: int) -> dict[str, torch.Tensor]:
    """Sequence-first inputs: curr/curr_pos L x B x 256, memory/memory_pos M x B x 64."""
    gen = torch.Generator().manual_seed(seed)
    n, m = grid * grid, frames * grid * grid + ptr_tokens
    return {
        "curr": torch.randn(n, batch, 256, generator=gen),
        "curr_pos": torch.randn(n, batch, 256, generator=gen),
        "memory": torch.randn(m, batch, 64, generator=gen),
        "memory_pos": torch.randn(m, batch, 64, generator=gen),
        "num_obj_ptr_tokens": ptr_tokens,
    }


@pytest.fixture(scope="module")
def attention32() -> tuple[torch.nn.Module, torch.nn.Module]:
    return _build_pair("memory_attention", grid=32)


def test_memory_attention_state_dict_keys():
    ref, ours = _build_pair("memory_attention")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    for key in (
        "layers.0.self_attn.q_proj.weight",
        "layers.0.cross_attn_image.k_proj.weight",
        "layers.3.norm1.weight",
        "layers.0.linear1.weight",
        "norm.weight",
    ):
        assert key in ours.state_dict()
    assert ours.state_dict()["layers.0.cross_attn_image.k_proj.weight"].shape == (256, 64)


def test_memory_encoder_state_dict_keys():
    ref, ours = _build_pair("memory_encoder")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    for key in (
        "mask_downsampler.encoder.0.weight",
        "mask_downsampler.encoder.12.weight",
        "pix_feat_proj.weight",
        "fuser.layers.0.dwconv.weight",
        "fuser.layers.1.gamma",
        "out_proj.weight",
    ):
        assert key in ours.state_dict()


@pytest.mark.parametrize("frames, ptr_tokens", [(1, 0), (3, 16), (7, 16)])
@torch.no_grad()
def test_memory_attention_matches_reference(attention32, frames: int, ptr_tokens: int):
    """32x32 grid, B=2, several memory frames; 16 pointer tokens = 4 pointers split into 64-dim tokens."""
    ref, ours = attention32
    inputs = _attention_inputs(32, batch=2, frames=frames, ptr_tokens=ptr_tokens, seed=frames)
    expected = ref(**copy.deepcopy(inputs))
    got = ours(**inputs)
    assert got.shape == (32 * 32, 2, 256)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@torch.no_grad()
def test_memory_attention_other_grids_and_list_inputs():
    """Official 64x64 config (one frame, B=1) and a 16x16 grid; curr given as one-element lists."""
    for grid, batch, frames, ptrs in ((64, 1, 1, 16), (16, 3, 2, 8)):
        ref, ours = _build_pair("memory_attention", grid=grid, seed=grid)
        inputs = _attention_inputs(grid, batch=batch, frames=frames, ptr_tokens=ptrs, seed=grid)
        inputs["curr"], inputs["curr_pos"] = [inputs["curr"]], [inputs["curr_pos"]]
        expected = ref(**copy.deepcopy(inputs))
        torch.testing.assert_close(ours(**inputs), expected, atol=ATOL, rtol=0)


@torch.no_grad()
def test_all_false_mask_equals_unmasked(attention32):
    _, ours = attention32
    inputs = _attention_inputs(32, batch=2, frames=3, ptr_tokens=16, seed=11)
    mask = torch.zeros(2, inputs["memory"].shape[0], dtype=torch.bool)
    # Exact: the masked path runs the same ops and SDPA with an all-True keep mask (CPU, fp32).
    torch.testing.assert_close(ours(**inputs, memory_key_padding_mask=mask), ours(**inputs), atol=0, rtol=0)


@torch.no_grad()
def test_padded_batch_equals_each_object_alone(attention32):
    """Object A: 3 frames + 3 pointers; object B: 1 frame + 1 pointer, padded with garbage to A's layout."""
    ref, ours = attention32
    n, ptr = 32 * 32, 4  # tokens per frame, tokens per object pointer
    a = _attention_inputs(32, batch=1, frames=3, ptr_tokens=3 * ptr, seed=21)
    b = _attention_inputs(32, batch=1, frames=1, ptr_tokens=1 * ptr, seed=22)
    junk = _attention_inputs(32, batch=1, frames=3, ptr_tokens=3 * ptr, seed=23)

    # B's real frame sits in slot 1 (as in a ring buffer), its pointer tokens first among the pointers.
    b_padded = {}
    mask_b = torch.ones(3 * n + 3 * ptr, dtype=torch.bool)
    for key in ("memory", "memory_pos"):
        t = 100.0 * junk[key].clone()
        t[n : 2 * n] = b[key][:n]
        t[3 * n : 3 * n + ptr] = b[key][n:]
        b_padded[key] = t
    mask_b[n : 2 * n] = False
    mask_b[3 * n : 3 * n + ptr] = False

    batch = {
        "curr": torch.cat([a["curr"], b["curr"]], dim=1),
        "curr_pos": torch.cat([a["curr_pos"], b["curr_pos"]], dim=1),
        "memory": torch.cat([a["memory"], b_padded["memory"]], dim=1),
        "memory_pos": torch.cat([a["memory_pos"], b_padded["memory_pos"]], dim=1),
        "num_obj_ptr_tokens": 3 * ptr,
    }
    mask = torch.stack([torch.zeros_like(mask_b), mask_b])
    out = ours(**batch, memory_key_padding_mask=mask)

    torch.testing.assert_close(out[:, :1], ours(**a), atol=ATOL, rtol=0)
    torch.testing.assert_close(out[:, 1:], ours(**b), atol=ATOL, rtol=0)
    torch.testing.assert_close(out[:, 1:], ref(**copy.deepcopy(b)), atol=ATOL, rtol=0)


@torch.no_grad()
def test_fully_masked_object_stays_finite(attention32):
    _, ours = attention32
    inputs = _attention_inputs(32, batch=2, frames=1, ptr_tokens=4, seed=31)
    mask = torch.zeros(2, inputs["memory"].shape[0], dtype=torch.bool)
    mask[1] = True
    assert torch.isfinite(ours(**inputs, memory_key_padding_mask=mask)).all()


@pytest.fixture(scope="module")
def encoder_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    return _build_pair("memory_encoder", seed=5)


@pytest.mark.parametrize("grid, skip_mask_sigmoid", [(32, False), (32, True), (64, False)])
@torch.no_grad()
def test_memory_encoder_matches_reference(encoder_pair, grid: int, skip_mask_sigmoid: bool):
    ref, ours = encoder_pair
    gen = torch.Generator().manual_seed(grid + skip_mask_sigmoid)
    pix_feat = torch.randn(2, 256, grid, grid, generator=gen)
    masks = 4.0 * torch.randn(2, 1, 16 * grid, 16 * grid, generator=gen)
    if skip_mask_sigmoid:  # callers that skip the sigmoid pass binary masks
        masks = (masks > 0).float()
    expected = ref(pix_feat, masks, skip_mask_sigmoid=skip_mask_sigmoid)
    got = ours(pix_feat, masks, skip_mask_sigmoid=skip_mask_sigmoid)
    assert got["vision_features"].shape == (2, 64, grid, grid)
    torch.testing.assert_close(got["vision_features"], expected["vision_features"], atol=ATOL, rtol=0)
    assert len(got["vision_pos_enc"]) == 1
    torch.testing.assert_close(got["vision_pos_enc"][0], expected["vision_pos_enc"][0], atol=ATOL, rtol=0)


@torch.no_grad()
def test_fuser_with_input_projection_matches_reference():
    """Not used by the official models, but part of the reference's interface (key ``proj.weight``)."""
    torch.manual_seed(7)
    ref = RefFuser(RefCXBlock(dim=32), num_layers=2, dim=32, input_projection=True).eval()
    _randomize(ref, 7)
    ours = Fuser(CXBlock(dim=32), num_layers=2, dim=32, input_projection=True).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 32, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)


def test_memory_encoder_identity_out_proj_when_widths_match():
    enc = MemoryEncoder(
        out_dim=256,
        mask_downsampler=torch.nn.Identity(),
        fuser=torch.nn.Identity(),
        position_encoding=torch.nn.Identity(),
    )
    assert not any(k.startswith("out_proj") for k in enc.state_dict())
