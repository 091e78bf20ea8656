# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The fast path on a CUDA GPU: compiled steps replayed as CUDA graphs, bf16, frame upload, labels.

Marked ``cuda``: skipped without a GPU; ``make gpu-check`` runs them on a lent one. The micro
network keeps compiling short.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from micro_model import micro_config
from test_compiled_tracker import assert_close, frames, run_clip

from sam2_core.build import build_model
from sam2_core.config import register_model
from sam2_core.labels import label_image
from sam2_core.preprocess import FrameUploader, image_to_tensor
from sam2_core.tracker import Tracker

pytestmark = pytest.mark.cuda
MICRO = micro_config("compile_test_micro")


def micro_on(device: str, dtype: torch.dtype = torch.float32):
    register_model(MICRO)
    torch.manual_seed(0)
    model = build_model(MICRO.name)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("memory_attention", "memory_encoder", "obj_ptr", "maskmem_tpos_enc")):
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.to(device=device, dtype=dtype)


def test_compiled_tracker_replays_cuda_graphs_and_equals_eager_fp32():
    model = micro_on("cuda")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager, _ = run_clip(Tracker(model, max_objects=2))
    tracker = Tracker(model, max_objects=2, compile=True)
    assert tracker.compiled.cuda_graphs and tracker.compiled.mode == "reduce-overhead"
    compiled, graphs = run_clip(tracker)
    assert graphs == [1, 2, 2, 3, 3, 3, 3, 3, 3]  # one graph per bucket, never again
    # every result is compared after the whole clip: later replays did not overwrite earlier outputs
    for k, (ours, theirs) in enumerate(zip(compiled, eager)):
        assert_close(ours, theirs, f"result {k}")
    assert tracker.compiled.stats.eager == {}


def test_compiled_bf16_masks_match_eager_bf16():
    model = micro_on("cuda", torch.bfloat16)
    clip = frames(6)
    trackers = [Tracker(model, max_objects=1), Tracker(model, max_objects=1, compile=True)]  # two graphs
    for t in trackers:
        t.track(clip[0])
        t.add_prompt(1, points=[[16, 24]], labels=[1])
    for k, frame in enumerate(clip[1:], 1):
        eager, compiled = (t.track(frame) for t in trackers)
        a, b = compiled.masks, eager.masks
        union = (a | b).sum().item()
        iou = (a & b).sum().item() / union if union else 1.0
        assert iou >= 0.99, f"frame {k}: mask IoU {iou:.4f} against eager bf16"


def test_frames_go_through_pinned_memory_and_the_buffer_is_free_at_once():
    uploader = FrameUploader("cuda")
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    expected = image_to_tensor(frame, "cpu")
    first = uploader.upload(frame)
    frame[:] = 0  # the caller reuses its buffer at once
    second = uploader.upload(frame)
    third = uploader.upload(frame)  # the first staging buffer again
    torch.testing.assert_close(first.cpu(), expected, rtol=0, atol=0)
    assert second.abs().sum().item() == 0 and third.abs().sum().item() == 0
    assert uploader._staging[0][0].is_pinned()


def test_lean_labels_on_cuda_equal_the_cpu_ones():
    model = micro_on("cuda")
    tracker = Tracker(model, max_objects=2)
    clip = frames(3)
    tracker.track(clip[0])
    tracker.add_prompt(1, points=[[16, 24]], labels=[1])
    tracker.add_prompt(2, box=[32, 16, 60, 44])
    result = tracker.track(clip[1])
    on_device = result.label_image()
    assert on_device.labels.device.type == "cuda" and not on_device.lean  # the full upsample, on the GPU
    on_cpu = label_image(result.low_res_logits.cpu(), result.object_scores.cpu(), result.obj_ids, result.frame_size)
    # two devices' kernels round differently: only pixels within float error of a tie may differ
    agree = (on_device.labels.cpu() == on_cpu.labels).float().mean().item()
    assert agree >= 0.999, f"labels agree on {agree:.5f} of the pixels"
