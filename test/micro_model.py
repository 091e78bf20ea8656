# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A tiny registered SAM 2.1 configuration that runs every part of the real code path in milliseconds."""

from __future__ import annotations

from dataclasses import replace

from sam2_core.config import HieraConfig, ModelConfig, get_config

# four one-block Hiera stages, windows that tile a 64-pixel input's grids
MICRO_HIERA = HieraConfig(
    embed_dim=8,
    num_heads=1,
    stages=(1, 1, 1, 1),
    global_att_blocks=(2,),
    window_pos_embed_bkg_spatial_size=(4, 4),
    window_spec=(4, 2, 2, 2),
)
# narrow heads and memory (2-token object pointers, as in the official models)
MICRO_WIDTHS = dict(
    d_model=32,
    mem_dim=16,
    memory_attention_layers=1,
    memory_attention_ffn_dim=32,
    decoder_mlp_dim=32,
    decoder_num_heads=2,
    iou_head_hidden_dim=16,
    mask_in_chans=4,
)


def micro_config(name: str, base: str = "sam2.1_hiera_nano", **overrides) -> ModelConfig:
    """``base``'s flags with the micro trunk and widths, at 64 x 64 input (``overrides`` win)."""
    return replace(get_config(base), name=name, **{"hiera": MICRO_HIERA, "image_size": 64, **MICRO_WIDTHS, **overrides})
