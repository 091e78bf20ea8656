# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build the sam2_core Tracker the node drives from its parameters; device and dtype resolution.

The node takes the factory as an argument, so its tests swap in a fake tracker. torch and
sam2_core are imported here, when a model is built, not when the node module is imported.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: the label tool (python -m sam2_ros.label) runs without ROS installed
    from sam2_ros.tracker_parameters import TrackerParams


def resolve_device(name: str) -> str:
    """A torch device string for the ``device`` parameter; ValueError when it is not usable here."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device '{name}' requested but PyTorch sees no CUDA GPU here")
        index = int(name.split(":", 1)[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device '{name}' requested but only {torch.cuda.device_count()} CUDA GPU(s) exist")
    if name == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' requested but PyTorch has no MPS support here")
    return name


def resolve_dtype(name: str, device: str) -> Any:
    """The torch dtype for the ``dtype`` parameter; auto is bfloat16 on CUDA GPUs with native
    bfloat16 (compute capability 8.0 and newer: Ampere, Ada, Hopper, Jetson Orin), else float32.

    ``torch.cuda.is_bf16_supported()`` is not enough: it also says yes for older GPUs (V100, T4,
    Jetson Xavier) that only emulate bfloat16, where float32 is faster.
    """
    import torch

    if name == "auto":
        on_bf16_gpu = device.startswith("cuda") and torch.cuda.get_device_capability(torch.device(device))[0] >= 8
        return torch.bfloat16 if on_bf16_gpu else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


# Used when the `checkpoint` parameter is empty: the project's small model, trained on
# synthetic scenes only and shipped in sam2_core/checkpoints/.
FALLBACK_MODEL = "sam2.1_hiera_nano"


def resolve_weights(model: str, checkpoint: str) -> tuple[str, str]:
    """(model name, checkpoint path) for the ``model`` / ``checkpoint`` parameters.

    An empty checkpoint means the weights shipped with the package: the model's own if it has
    some, else the small synthetic-scene model. ValueError when neither exists, because an
    official model with random weights would track nothing.
    """
    import sam2_core

    if checkpoint:
        path = os.path.expanduser(checkpoint)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint '{checkpoint}' does not exist or is not a file")
        return model, path
    bundled = sam2_core.bundled_checkpoint(model)
    if bundled:
        return model, bundled
    fallback = sam2_core.bundled_checkpoint(FALLBACK_MODEL)
    if fallback:
        return FALLBACK_MODEL, fallback
    raise ValueError(
        f"no checkpoint set for model '{model}': set the `checkpoint` parameter to the official "
        f"{model}.pt file (see the README for download links)"
    )


@dataclass(frozen=True)
class LoadedModel:
    """A network as ``load_model`` built it, with what was chosen for it."""

    model: Any  # sam2_core.SAM2Model
    name: str  # the model name used (the bundled one's when no checkpoint was given)
    checkpoint: str
    device: str


def load_model(model: str, checkpoint: str, device: str, dtype: str, image_size: int = 0) -> LoadedModel:
    """Build the network the ``model`` / ``checkpoint`` / ``device`` / ``dtype`` / ``image_size`` settings name.

    Raises (FileNotFoundError, ValueError, or sam2_core's CheckpointError) with a message naming the
    problem: an unknown model, a missing or unfitting checkpoint, a device this machine lacks.
    """
    import sam2_core

    names = sam2_core.model_names()
    if model not in names:
        raise ValueError(f"unknown model '{model}'; choose one of: {', '.join(names)}")
    model_name, path = resolve_weights(model, checkpoint)
    torch_device = resolve_device(device)
    network = sam2_core.build_model(
        model_name,
        checkpoint=path,
        device=torch_device,
        dtype=resolve_dtype(dtype, torch_device),
        image_size=image_size or None,
    )
    return LoadedModel(network, model_name, path, torch_device)


def make_tracker(params: TrackerParams) -> Any:
    """Load the model named by the parameters and wrap it in a ``sam2_core.Tracker``.

    Raises as ``load_model``; the node turns that into a failed configure.
    """
    import sam2_core

    model = load_model(params.model, params.checkpoint, params.device, params.dtype, params.image_size).model
    return sam2_core.Tracker(
        model,
        max_objects=params.max_objects,
        fill_hole_area=params.fill_hole_area,
        non_overlap_masks=params.non_overlap_masks,
        compile=params.compile,  # compiles lazily: the activation's warm-up runs every bucket
    )


def release_device_memory() -> None:
    """Return cached accelerator memory to the driver (after the tracker's tensors are dropped)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
