# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Typed configurations of the SAM 2 / SAM 2.1 models and the registry of model names."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class HieraConfig:
    """Hiera trunk hyperparameters (the FPN neck's channel list follows from them)."""

    embed_dim: int = 96
    num_heads: int = 1
    stages: tuple[int, ...] = (2, 3, 16, 3)
    global_att_blocks: tuple[int, ...] = (12, 16, 20)
    window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14)
    window_spec: tuple[int, ...] = (8, 4, 14, 7)
    drop_path_rate: float = 0.0

    @property
    def channel_list(self) -> list[int]:
        """Stage output widths, deepest first (the neck's ``backbone_channel_list``)."""
        return [self.embed_dim * 2**i for i in reversed(range(len(self.stages)))]


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines one SAM 2 network. Field names follow the official configs."""

    name: str
    hiera: HieraConfig
    image_size: int = 1024
    d_model: int = 256  # width of the neck, SAM heads and memory attention
    mem_dim: int = 64  # width of the memory encoder output
    num_maskmem: int = 7  # 1 conditioning slot + 6 recent frames
    memory_attention_layers: int = 4
    memory_attention_ffn_dim: int = 2048
    decoder_mlp_dim: int = 2048  # two-way transformer feed-forward width
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256
    mask_in_chans: int = 16  # prompt encoder's mask-downscaling width
    fpn_top_down_levels: tuple[int, ...] = (2, 3)
    # behaviour flags shared by all official models
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    use_mask_input_as_output_without_sam: bool = True
    directly_add_no_mem_embed: bool = True
    use_high_res_features_in_sam: bool = True
    multimask_output_in_sam: bool = True
    iou_prediction_use_sigmoid: bool = True
    use_obj_ptrs_in_encoder: bool = True
    max_obj_ptrs_in_encoder: int = 16
    only_obj_ptrs_in_the_past_for_eval: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    fixed_no_obj_ptr: bool = True
    multimask_output_for_tracking: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    use_mlp_for_obj_ptr_proj: bool = True
    # the video builder's settings (Meta's build_sam2_video_predictor)
    dynamic_multimask_via_stability: bool = True
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98
    binarize_mask_from_pts_for_mem_enc: bool = True
    # SAM 2.1 additions
    no_obj_embed_spatial: bool = False
    add_tpos_enc_to_obj_ptrs: bool = False
    proj_tpos_enc_in_obj_ptrs: bool = False
    use_signed_tpos_enc_to_obj_ptrs: bool = False
    # official name this config was derived from (for checkpoints of a custom size)
    family: str = field(default="", compare=False)

    @property
    def backbone_stride(self) -> int:
        return 16

    @property
    def feat_size(self) -> int:
        """Side of the lowest-resolution feature map (64 for 1024 input)."""
        return self.image_size // self.backbone_stride

    @property
    def is_sam21(self) -> bool:
        return self.no_obj_embed_spatial

    def with_image_size(self, image_size: int) -> ModelConfig:
        """The same network at another input size (a multiple of 32; weights are compatible)."""
        if image_size <= 0 or image_size % 32:
            raise ValueError(f"image_size must be a positive multiple of 32, got {image_size}")
        return replace(self, image_size=image_size)


_TRUNKS = {
    "tiny": HieraConfig(
        embed_dim=96,
        num_heads=1,
        stages=(1, 2, 7, 2),
        global_att_blocks=(5, 7, 9),
        window_pos_embed_bkg_spatial_size=(7, 7),
    ),
    "small": HieraConfig(
        embed_dim=96,
        num_heads=1,
        stages=(1, 2, 11, 2),
        global_att_blocks=(7, 10, 13),
        window_pos_embed_bkg_spatial_size=(7, 7),
    ),
    "base_plus": HieraConfig(embed_dim=112, num_heads=2),
    "large": HieraConfig(
        embed_dim=144,
        num_heads=2,
        stages=(2, 6, 36, 4),
        global_att_blocks=(23, 33, 43),
        window_pos_embed_bkg_spatial_size=(7, 7),
        window_spec=(8, 4, 16, 8),
    ),
}

_SAM21_FLAGS = dict(
    no_obj_embed_spatial=True,
    add_tpos_enc_to_obj_ptrs=True,
    proj_tpos_enc_in_obj_ptrs=True,
    use_signed_tpos_enc_to_obj_ptrs=True,
)

MODEL_CONFIGS: dict[str, ModelConfig] = {}
for _size, _trunk in _TRUNKS.items():
    MODEL_CONFIGS[f"sam2_hiera_{_size}"] = ModelConfig(name=f"sam2_hiera_{_size}", hiera=_trunk)
    MODEL_CONFIGS[f"sam2.1_hiera_{_size}"] = ModelConfig(name=f"sam2.1_hiera_{_size}", hiera=_trunk, **_SAM21_FLAGS)

#: The eight official model names, SAM 2 first.
OFFICIAL_MODEL_NAMES: tuple[str, ...] = tuple(MODEL_CONFIGS)

#: The project's own small SAM 2.1 model, trained on synthetic scenes (``sam2_core/checkpoints``).
NANO_MODEL_NAME = "sam2.1_hiera_nano"
MODEL_CONFIGS[NANO_MODEL_NAME] = ModelConfig(
    name=NANO_MODEL_NAME,
    # stage grids at 256 input: 64, 32, 16, 8 patches; windows tile them exactly
    hiera=HieraConfig(
        embed_dim=32,
        num_heads=1,
        stages=(1, 2, 4, 1),
        global_att_blocks=(4, 6),
        window_pos_embed_bkg_spatial_size=(7, 7),
        window_spec=(8, 4, 8, 8),
    ),
    image_size=256,
    d_model=128,
    mem_dim=64,
    memory_attention_layers=2,
    memory_attention_ffn_dim=512,
    decoder_mlp_dim=512,
    decoder_num_heads=8,
    iou_head_hidden_dim=128,
    mask_in_chans=16,
    family="sam2.1_hiera_tiny",
    **_SAM21_FLAGS,
)


def register_model(config: ModelConfig) -> None:
    """Add a model configuration to the registry (e.g. the project's small "nano" model)."""
    MODEL_CONFIGS[config.name] = config


def model_names() -> list[str]:
    """All registered model names."""
    return list(MODEL_CONFIGS)


def get_config(name: str) -> ModelConfig:
    """The configuration registered under ``name``; ValueError listing valid names otherwise."""
    try:
        return MODEL_CONFIGS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model name {name!r}; valid names: {', '.join(MODEL_CONFIGS)}") from None
