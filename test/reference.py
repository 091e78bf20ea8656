# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Helpers that build Meta's reference SAM 2 (sam2==1.1.0, a test-only dependency) with random weights."""

from __future__ import annotations

import functools
import os

import torch

# short names of the official config files
_SIZE = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


def reference_config_file(name: str) -> str:
    family = "sam2.1" if name.startswith("sam2.1") else "sam2"
    size = _SIZE[name.split("_hiera_", 1)[1]]
    return f"configs/{family}/{family}_hiera_{size}.yaml"


def perturb_(module: torch.nn.Module, seed: int, std: float = 0.02) -> torch.nn.Module:
    """Add seeded noise to every float parameter so none is trivially zero or one."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.is_floating_point():
                p.add_(torch.randn(p.shape, generator=g) * std)
    return module


def reference_video_model(name: str, seed: int = 0, image_size: int | None = None, extra=()):
    """Meta's SAM2VideoPredictor for ``name`` (video builder settings), random seeded weights, on CPU."""
    from sam2.build_sam import build_sam2_video_predictor

    overrides = list(extra)
    if image_size is not None:
        feat = image_size // 16
        overrides += [
            f"++model.image_size={image_size}",
            f"++model.memory_attention.layer.self_attention.feat_sizes=[{feat},{feat}]",
            f"++model.memory_attention.layer.cross_attention.feat_sizes=[{feat},{feat}]",
        ]
    torch.manual_seed(seed)
    model = build_sam2_video_predictor(reference_config_file(name), None, device="cpu", hydra_overrides_extra=overrides)
    return perturb_(model, seed).eval()


@functools.cache
def _cached_checkpoint(name: str, seed: int, directory: str) -> str:
    path = os.path.join(directory, f"{name}-seed{seed}.pt")
    if not os.path.exists(path):
        ref = reference_video_model(name, seed)
        torch.save({"model": ref.state_dict()}, path)
    return path


def official_checkpoint(name: str, seed: int, directory: str) -> str:
    """Path of an official-format checkpoint (``{"model": state_dict}``) of a random reference model."""
    return _cached_checkpoint(name, seed, str(directory))
