# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Meta's reference video predictor (``sam2==1.1.0``, optional) driven frame by frame like a live stream."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

import cv2
import numpy as np
import torch

from .preprocess import image_to_tensor, resize_and_normalize

# the reference's config files by model size (``configs/<family>/<family>_hiera_<short>.yaml``)
_CONFIG_SIZE = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


class ReferenceUnavailable(RuntimeError):
    """The reference cannot be used for this run; the message says why and what to install."""


def reference_config_file(name: str) -> str:
    """The reference's Hydra config for an official model, e.g. ``configs/sam2.1/sam2.1_hiera_t.yaml``."""
    family, _, size = name.partition("_hiera_")
    if family not in ("sam2", "sam2.1") or size not in _CONFIG_SIZE:
        raise ReferenceUnavailable(f"model {name!r} has no reference implementation (only official models)")
    return f"configs/{family}/{family}_hiera_{_CONFIG_SIZE[size]}.yaml"


def reference_fills_holes(device: torch.device) -> bool:
    """Whether the reference's hole filling runs: it needs its compiled CUDA extension and CUDA tensors.

    Without it the reference catches the error, warns and returns the masks unfilled.
    """
    if device.type != "cuda":
        return False
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return False
    return True


def build_reference(
    name: str,
    checkpoint: str,
    *,
    device: torch.device,
    image_size: int | None = None,
    vos_optimized: bool = False,
    fill_hole_area: int = 8,
):
    """Meta's ``SAM2VideoPredictor`` (``SAM2VideoPredictorVOS`` with ``vos_optimized``) from an official
    checkpoint, with the video builder's settings; ``image_size`` overrides the input size as ours does.

    ``fill_hole_area`` replaces the builder's 8 (0 where the reference would skip hole filling
    anyway: it then also skips the failing extension import on every frame).
    """
    config = reference_config_file(name)
    try:
        from sam2.build_sam import build_sam2_video_predictor
    except ImportError as exc:
        raise ReferenceUnavailable(
            f"--compare-reference needs Meta's reference implementation, which cannot be imported ({exc}); "
            "install it with `pip install --no-deps sam2==1.1.0 hydra-core omegaconf iopath tqdm pillow`"
        ) from exc
    overrides = []
    if image_size is not None:
        feat = image_size // 16
        overrides += [
            f"++model.image_size={image_size}",
            f"++model.memory_attention.layer.self_attention.feat_sizes=[{feat},{feat}]",
            f"++model.memory_attention.layer.cross_attention.feat_sizes=[{feat},{feat}]",
        ]
    predictor = build_sam2_video_predictor(
        config, checkpoint, device=str(device), hydra_overrides_extra=overrides, vos_optimized=vos_optimized
    )
    predictor.fill_hole_area = fill_hole_area
    _quiet_progress_bars()
    return predictor.eval()


def _quiet_progress_bars() -> None:
    """The reference draws a tqdm bar per propagation and per JPEG folder it reads; the bench drives it
    one frame at a time, so those bars would only interleave with the bench's table. They are turned
    off in the reference's modules alone (the name each module imported), not in tqdm itself."""
    import functools
    import sys

    for module_name in ("sam2.sam2_video_predictor", "sam2.utils.misc"):
        module = sys.modules.get(module_name)
        bar = getattr(module, "tqdm", None)
        if bar is not None and not isinstance(bar, functools.partial):
            module.tqdm = functools.partial(bar, disable=True)


class _LiveFrames:
    """Stands in for the reference's preloaded ``state["images"]``: frame ``t`` is preprocessed when the
    reference asks for it (as ours does inside ``track``), so preprocessing is timed on both sides.

    The bench hands each frame over with ``put`` just before the reference's step that reads it.
    """

    def __init__(self, num_frames: int, image_size: int, device: torch.device) -> None:
        self.num_frames = num_frames
        self.image_size = image_size
        self.device = device
        self._frames: dict[int, np.ndarray] = {}

    def put(self, index: int, frame: np.ndarray) -> None:
        self._frames = {index: frame}  # only the current frame is kept

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, index: int) -> torch.Tensor:
        """``3 x S x S`` normalized model input of frame ``index``."""
        image = image_to_tensor(self._frames[index], self.device)
        return resize_and_normalize(image, self.image_size)[0]


class ReferenceRunner:
    """Drive a reference predictor live: ``start`` prompts frame 0, then ``step`` yields one frame at a time.

    The state comes from ``init_state`` on a folder holding the clip's first frame as a JPEG (the
    reference reads videos only from JPEG folders); its preloaded images are then replaced by
    ``_LiveFrames`` with the clip's length and its cached features cleared, so it never holds the
    whole clip in memory and computes every frame from the same preprocessed input as ours.
    """

    def __init__(self, predictor, num_frames: int, autocast_dtype: torch.dtype | None = None) -> None:
        self.predictor = predictor
        self.num_frames = num_frames
        self.device = predictor.device
        # the reference's own way to run in bfloat16 (its benchmark and notebooks): autocast
        self.autocast_dtype = autocast_dtype
        self.state: dict | None = None
        self._frames: _LiveFrames | None = None
        self._propagation: Iterator | None = None

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def init(self, first_frame: np.ndarray) -> None:
        """Build the inference state (untimed setup; it also runs the image encoder once on frame 0)."""
        with tempfile.TemporaryDirectory() as folder:
            cv2.imwrite(os.path.join(folder, "0.jpg"), cv2.cvtColor(first_frame, cv2.COLOR_RGB2BGR))
            with self._autocast():
                state = self.predictor.init_state(video_path=folder)
        h, w = first_frame.shape[:2]
        if (state["video_height"], state["video_width"]) != (h, w):
            got = f"{state['video_height']}x{state['video_width']}"
            raise RuntimeError(f"reference read frame 0 as {got}, not {h}x{w}")
        self._frames = _LiveFrames(self.num_frames, self.predictor.image_size, self.device)
        state["images"] = self._frames
        state["num_frames"] = self.num_frames
        state["cached_features"] = {}
        self.state = state

    def start(self, frame: np.ndarray, clicks: list[tuple[int, np.ndarray, np.ndarray]]) -> torch.Tensor:
        """Prompt every object on frame 0 (``clicks``: (obj_id, P x 2 pixel points, P labels)) and
        return frame 0's masks ``N x H x W`` bool on the CPU."""
        assert self.state is not None and self._frames is not None, "call init() first"
        self._frames.put(0, frame)
        with self._autocast():
            for obj_id, points, labels in clicks:
                self.predictor.add_new_points_or_box(
                    self.state, frame_idx=0, obj_id=obj_id, points=points, labels=labels
                )
            self._propagation = self.predictor.propagate_in_video(self.state)
            return self._next(0)

    def step(self, index: int, frame: np.ndarray) -> torch.Tensor:
        """Frame ``index``'s masks ``N x H x W`` bool on the CPU."""
        assert self._frames is not None, "call start() first"
        self._frames.put(index, frame)
        with self._autocast():
            return self._next(index)

    def _next(self, index: int) -> torch.Tensor:
        frame_idx, _, logits = next(self._propagation)
        if frame_idx != index:
            raise RuntimeError(f"reference yielded frame {frame_idx}, expected {index}")
        return (logits[:, 0] > 0.0).cpu()

    @property
    def obj_ids(self) -> list[int]:
        return list(self.state["obj_ids"]) if self.state is not None else []

    def state_tensors(self) -> object:
        """What the reference keeps between frames (its inference state without the frame source)."""
        return {k: v for k, v in (self.state or {}).items() if k != "images"}


def save_checkpoint(state_dict: dict[str, torch.Tensor], folder: str) -> str:
    """Write ``{"model": state_dict}`` (the official checkpoint layout) into ``folder``; returns the path."""
    path = os.path.join(folder, "random_weights.pt")
    torch.save({"model": {k: v.detach().cpu() for k, v in state_dict.items()}}, path)
    return path
