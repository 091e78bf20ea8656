# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Frame validation, resizing and normalization on the model's device, and logit upsampling."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_frame(frame: np.ndarray | torch.Tensor) -> tuple[int, int]:
    """Validate an ``H x W x 3`` uint8 RGB frame; returns (H, W). ValueError naming the problem."""
    if not isinstance(frame, np.ndarray | torch.Tensor):
        raise ValueError(f"frame must be a numpy array or torch tensor, got {type(frame).__name__}")
    dtype = frame.dtype
    if dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"frame must be uint8 RGB, got dtype {dtype}")
    if frame.ndim != 3:
        raise ValueError(f"frame must be H x W x 3, got {frame.ndim} dimensions (shape {tuple(frame.shape)})")
    if frame.shape[2] != 3:
        raise ValueError(f"frame must have 3 channels (RGB), got {frame.shape[2]} (shape {tuple(frame.shape)})")
    h, w = int(frame.shape[0]), int(frame.shape[1])
    if h == 0 or w == 0:
        raise ValueError(f"frame is empty (shape {tuple(frame.shape)})")
    return h, w


def image_to_tensor(frame: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``H x W x 3`` uint8 RGB (numpy or torch, any device) -> ``1 x 3 x H x W`` float32 in [0, 1] on ``device``.

    The uint8 data crosses to the device before the float conversion (4x less to copy). The copy
    is blocking: the caller may reuse its buffer (e.g. a pinned ring buffer) as soon as this returns.
    """
    check_frame(frame)
    t = torch.from_numpy(np.ascontiguousarray(frame)) if isinstance(frame, np.ndarray) else frame
    t = t.to(device)
    return t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


class FrameUploader:
    """``image_to_tensor`` that, for numpy frames going to a CUDA device, copies through pinned memory.

    The frame is copied into one of two pinned staging buffers (a host copy: the caller may reuse
    its buffer as soon as ``upload`` returns) and from there to the device without blocking, so the
    host never waits for the GPU here. A buffer is refilled only after its previous copy finished.
    Elsewhere (CPU, torch tensors) it is ``image_to_tensor``.
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._staging: list[tuple[torch.Tensor, torch.cuda.Event]] = []
        self._next = 0

    def upload(self, frame: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``H x W x 3`` uint8 RGB -> ``1 x 3 x H x W`` float32 in [0, 1] on the device."""
        if self.device.type != "cuda" or not isinstance(frame, np.ndarray):
            return image_to_tensor(frame, self.device)
        check_frame(frame)
        if not self._staging or tuple(self._staging[0][0].shape) != frame.shape:
            self._staging = [
                (torch.empty(frame.shape, dtype=torch.uint8, pin_memory=True), torch.cuda.Event()) for _ in range(2)
            ]
        buffer, copied = self._staging[self._next]
        self._next = (self._next + 1) % len(self._staging)
        copied.synchronize()  # its previous copy to the device (one frame ago) is long done
        np.copyto(buffer.numpy(), frame)
        on_device = buffer.to(self.device, non_blocking=True)
        copied.record(torch.cuda.current_stream(self.device))
        return on_device.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def resize_and_normalize(image: torch.Tensor, image_size: int) -> torch.Tensor:
    """``B x 3 x H x W`` in [0, 1] -> ``B x 3 x S x S`` model input (antialiased bilinear, ImageNet stats)."""
    x = F.interpolate(image, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def upsample_logits(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``B x C x h x w`` low-resolution mask logits -> ``B x C x H x W`` float32 (bilinear, align_corners=False)."""
    return F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=False)
