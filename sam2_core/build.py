# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``build_model``: a SAM 2 network from a registered name and an optional official checkpoint."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping

import torch
from torch import nn

from .config import ModelConfig, get_config
from .modeling.attention import RoPEAttention
from .modeling.hiera import Hiera
from .modeling.image_encoder import FpnNeck, ImageEncoder
from .modeling.mask_decoder import MaskDecoder
from .modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from .modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from .modeling.position_encoding import PositionEmbeddingSine
from .modeling.prompt_encoder import PromptEncoder
from .modeling.sam2 import SAM2Model
from .modeling.two_way_transformer import TwoWayTransformer

# Parameters only SAM 2.1 checkpoints have; their presence tells the two families apart.
_SAM21_ONLY_KEYS = ("no_obj_embed_spatial", "obj_ptr_tpos_proj.weight", "obj_ptr_tpos_proj.bias")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into the requested model; the message says why."""


def _build_network(cfg: ModelConfig) -> SAM2Model:
    h = cfg.hiera
    trunk = Hiera(
        embed_dim=h.embed_dim,
        num_heads=h.num_heads,
        drop_path_rate=h.drop_path_rate,
        stages=h.stages,
        global_att_blocks=h.global_att_blocks,
        window_pos_embed_bkg_spatial_size=h.window_pos_embed_bkg_spatial_size,
        window_spec=h.window_spec,
    )
    neck = FpnNeck(
        position_encoding=PositionEmbeddingSine(cfg.d_model, normalize=True, temperature=10000),
        d_model=cfg.d_model,
        backbone_channel_list=h.channel_list,
        fpn_top_down_levels=list(cfg.fpn_top_down_levels),
        fpn_interp_model="nearest",
    )
    image_encoder = ImageEncoder(trunk=trunk, neck=neck, scalp=1)

    feat = (cfg.feat_size, cfg.feat_size)

    def rope(**kw) -> RoPEAttention:
        return RoPEAttention(cfg.d_model, 1, downsample_rate=1, dropout=0.1, rope_theta=10000.0, feat_sizes=feat, **kw)

    layer = MemoryAttentionLayer(
        activation="relu",
        cross_attention=rope(rope_k_repeat=True, kv_in_dim=cfg.mem_dim),
        d_model=cfg.d_model,
        dim_feedforward=cfg.memory_attention_ffn_dim,
        dropout=0.1,
        pos_enc_at_attn=False,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        self_attention=rope(),
    )
    memory_attention = MemoryAttention(
        d_model=cfg.d_model, pos_enc_at_input=True, layer=layer, num_layers=cfg.memory_attention_layers
    )
    memory_encoder = MemoryEncoder(
        out_dim=cfg.mem_dim,
        mask_downsampler=MaskDownSampler(embed_dim=cfg.d_model, kernel_size=3, stride=2, padding=1),
        fuser=Fuser(CXBlock(dim=cfg.d_model, kernel_size=7, padding=3, layer_scale_init_value=1e-6), num_layers=2),
        position_encoding=PositionEmbeddingSine(cfg.mem_dim, normalize=True, temperature=10000),
        in_dim=cfg.d_model,
    )
    prompt_encoder = PromptEncoder(
        embed_dim=cfg.d_model,
        image_embedding_size=feat,
        input_image_size=(cfg.image_size, cfg.image_size),
        mask_in_chans=cfg.mask_in_chans,
    )
    mask_decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(
            depth=2, embedding_dim=cfg.d_model, mlp_dim=cfg.decoder_mlp_dim, num_heads=cfg.decoder_num_heads
        ),
        transformer_dim=cfg.d_model,
        iou_head_depth=3,
        iou_head_hidden_dim=cfg.iou_head_hidden_dim,
        use_high_res_features=cfg.use_high_res_features_in_sam,
        iou_prediction_use_sigmoid=cfg.iou_prediction_use_sigmoid,
        pred_obj_scores=cfg.pred_obj_scores,
        pred_obj_scores_mlp=cfg.pred_obj_scores_mlp,
        use_multimask_token_for_obj_ptr=cfg.use_multimask_token_for_obj_ptr,
        dynamic_multimask_via_stability=cfg.dynamic_multimask_via_stability,
        dynamic_multimask_stability_delta=cfg.dynamic_multimask_stability_delta,
        dynamic_multimask_stability_thresh=cfg.dynamic_multimask_stability_thresh,
    )
    return SAM2Model(cfg, image_encoder, memory_attention, memory_encoder, prompt_encoder, mask_decoder)


CHECKPOINT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")


def bundled_checkpoint(name: str) -> str | None:
    """Path of the checkpoint shipped with this package for ``name`` (the project's own models), if any."""
    path = os.path.join(CHECKPOINT_DIR, f"{name}.pt")
    return path if os.path.isfile(path) else None


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict in an official checkpoint (``{"model": state_dict}``) or a bare state dict."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint path is a directory, not a file: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: not a readable PyTorch file ({first})") from exc
    state = data.get("model", data) if isinstance(data, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"checkpoint {path} holds no state dict (expected {{'model': state_dict}} or a bare state dict)"
        )
    return dict(state)


def _family_hint(name: str, is_sam21_ckpt: bool) -> str:
    size = name.split("_hiera_", 1)[-1]
    fitting = f"sam2.1_hiera_{size}" if is_sam21_ckpt else f"sam2_hiera_{size}"
    kind = "SAM 2.1" if is_sam21_ckpt else "SAM 2"
    return f"the checkpoint is a {kind} checkpoint but model {name!r} was requested; use {fitting!r}"


def load_checkpoint(model: SAM2Model, path: str | os.PathLike) -> None:
    """Load ``path`` strictly into ``model``; CheckpointError naming the mismatch otherwise."""
    state = read_checkpoint(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    name = model.config.name
    has21 = any(k in state for k in _SAM21_ONLY_KEYS)
    if (missing or unexpected) and "_hiera_" in name and set(missing + unexpected) <= set(_SAM21_ONLY_KEYS):
        raise CheckpointError(_family_hint(name, has21))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:5])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:5])})")
        raise CheckpointError(f"checkpoint {os.fspath(path)} does not fit model {name!r}: " + "; ".join(parts))
    bad = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items() if state[k].shape != v.shape]
    if bad:
        shown = ", ".join(f"{k} {got} vs {want}" for k, got, want in bad[:5])
        raise CheckpointError(
            f"checkpoint {os.fspath(path)} does not fit model {name!r}: {len(bad)} tensors of the wrong "
            f"shape (e.g. {shown}); is it a checkpoint of another model size?"
        )
    model.load_state_dict(state, strict=True)


def build_model(
    name: str,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    image_size: int | None = None,
) -> SAM2Model:
    """A SAM 2 network in eval mode.

    name: a registered model name (``sam2_core.model_names()``: the eight official ones and
    the project's own); checkpoint: path to an official ``.pt`` file or a bare state dict,
    ``None`` for random weights; image_size: optional other input size (multiple of 32,
    smaller is faster and less accurate; weights are shared across sizes).
    """
    cfg = get_config(name)
    if image_size is not None and image_size != cfg.image_size:
        cfg = cfg.with_image_size(image_size)
    model = _build_network(cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint)
    return model.to(device=device, dtype=dtype).eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
