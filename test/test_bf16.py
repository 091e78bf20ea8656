# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A bfloat16 model runs every path (points, box, mask prompts, corrections, tracking) close to fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_core import ImagePredictor, Tracker, build_model


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    m32 = build_model("sam2.1_hiera_tiny", image_size=128)
    m16 = build_model("sam2.1_hiera_tiny", image_size=128, dtype=torch.bfloat16)
    m16.load_state_dict(m32.state_dict())
    return m32, m16


def _frame(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)


def _run(model) -> torch.Tensor:
    tracker = Tracker(model)
    tracker.track(_frame(0))
    tracker.add_prompt(1, points=[[40, 30]], labels=[1])
    tracker.add_prompt(2, box=[10, 10, 60, 50])
    tracker.add_prompt(3, mask=np.pad(np.ones((40, 40), bool), ((20, 36), (60, 28))))
    tracker.add_prompt(1, points=[[50, 30]], labels=[0])
    for t in range(1, 4):
        result = tracker.track(_frame(t))
    assert result.mask_logits.dtype == torch.float32 and torch.isfinite(result.mask_logits).all()
    return result.masks


def test_bf16_tracker_agrees_with_fp32(models):
    m32, m16 = models
    a, b = _run(m32), _run(m16)
    for i in range(a.shape[0]):
        union = (a[i] | b[i]).sum().item()
        iou = (a[i] & b[i]).sum().item() / union if union else 1.0
        assert iou >= 0.95, (i, iou)


def test_bf16_image_predictor_agrees_with_fp32(models):
    outs = []
    for model in models:
        predictor = ImagePredictor(model)
        predictor.set_image(_frame(0))
        outs.append(predictor.predict(np.array([[40.0, 30.0]]), np.array([1]), box=np.array([10, 10, 60, 50])))
    (m32, s32, _), (m16, s16, _) = outs
    assert np.mean(m32 == m16) >= 0.97
    np.testing.assert_allclose(s32, s16, atol=0.05)


@pytest.mark.parametrize(
    ("device", "capability", "expected"),
    [
        ("cpu", None, torch.float32),
        ("cuda", (9, 0), torch.bfloat16),  # Hopper
        ("cuda:1", (8, 7), torch.bfloat16),  # Jetson Orin
        ("cuda:1", (7, 0), torch.float32),  # V100: bfloat16 only emulated
        ("cuda", (7, 5), torch.float32),  # T4
    ],
)
def test_auto_dtype_is_bfloat16_only_on_gpus_with_native_bfloat16(monkeypatch, device, capability, expected):
    """The node's ``dtype: auto`` asks the configured GPU for its compute capability (8.0+: native bf16)."""
    from sam2_ros.tracker_factory import resolve_dtype

    asked = []
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # says yes even for emulation
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: asked.append(d) or capability)
    assert resolve_dtype("auto", device) == expected
    assert asked == ([] if device == "cpu" else [torch.device(device)])
    assert resolve_dtype("float16", device) == torch.float16
