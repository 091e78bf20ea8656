# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tracker(compile=True) through CPU inductor equals the eager Tracker, and compiles once per bucket.

One micro network (every part of the real code path, 64-pixel input) keeps inductor's C++ builds
few and small: the encoder and two step buckets are the only graphs (about 2-4 minutes on 2 cores
when torch's compile cache is cold, seconds when warm).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from micro_model import micro_config

from sam2_core.build import build_model
from sam2_core.compiled_step import object_buckets
from sam2_core.config import register_model
from sam2_core.tracker import Tracker, TrackResult

MICRO = micro_config("compile_test_micro")
H, W = 48, 64


@pytest.fixture(scope="module")
def micro():
    register_model(MICRO)
    torch.manual_seed(0)
    model = build_model(MICRO.name)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # stronger memory-path weights, so memories steer the masks visibly
        for name, p in model.named_parameters():
            if name.startswith(("memory_attention", "memory_encoder", "obj_ptr", "maskmem_tpos_enc")):
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def frames(num: int, h: int = H, w: int = W) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(num):
        img = rng.integers(0, 60, (h, w, 3)).astype(np.uint8)
        disc = (xx - w // 4 - t) ** 2 + (yy - h // 2) ** 2 <= (h // 5) ** 2
        img[disc] = (220, 60, 50)
        img[h // 3 + t % 4 : h - 4, w // 2 : w - 4] = (40, 200, 80)
        out.append(img)
    return out


def unique_graphs() -> int:
    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])


def run_clip(tracker: Tracker) -> tuple[list[TrackResult], list[int]]:
    """Clicks, a box, a correction, a mask, an object added mid-stream and one removed, a new frame size.

    Returns every result (after each track and prompt) and the graph count after each frame.
    """
    clip = frames(9)
    results, graphs = [], []

    def track(frame):
        results.append(tracker.track(frame))
        graphs.append(unique_graphs())

    track(clip[0])
    results.append(tracker.add_prompt(1, points=[[16, 24], [40, 10]], labels=[1, 0]))
    track(clip[1])
    track(clip[2])
    results.append(tracker.add_prompt(2, box=[32, 16, 60, 44]))  # added mid-stream
    track(clip[3])
    results.append(tracker.add_prompt(1, points=[[20, 26]], labels=[1]))  # a correction
    track(clip[4])
    tracker.remove_object(1)
    track(clip[5])  # one object again: bucket 1, compiled already
    mask = np.zeros((H, W), dtype=bool)
    mask[6:20, 40:60] = True
    results.append(tracker.add_prompt(3, mask=mask))
    track(clip[6])  # two objects: bucket 2, compiled already
    track(clip[7][:40, :56].copy())  # another frame size: preprocessing is eager, no new graph
    track(clip[8])
    return results, graphs


def assert_close(ours: TrackResult, eager: TrackResult, where: str) -> None:
    assert ours.obj_ids == eager.obj_ids, where
    if not eager.obj_ids:
        return
    scale = max(1.0, eager.mask_logits.abs().max().item())
    diff = (ours.mask_logits - eager.mask_logits).abs().max().item()
    assert diff <= 1e-4 * scale, f"{where}: max |logit diff| {diff:.3g} at logit scale {scale:.3g}"
    torch.testing.assert_close(ours.object_scores, eager.object_scores, atol=1e-4 * scale, rtol=0, msg=where)


def test_buckets():
    assert object_buckets(1) == [1]
    assert object_buckets(16) == [1, 2, 4, 8, 16]
    assert object_buckets(5) == [1, 2, 4, 5]


def test_compiled_tracker_equals_eager_and_compiles_each_bucket_once(micro):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager, _ = run_clip(Tracker(micro, max_objects=2))
    assert unique_graphs() == 0
    tracker = Tracker(micro, max_objects=2, compile=True)
    assert tracker.warmup_object_counts == [1, 2]
    compiled, graphs = run_clip(tracker)
    for k, (ours, theirs) in enumerate(zip(compiled, eager)):
        assert_close(ours, theirs, f"result {k}")
    # frame 0 (no object) compiles the encoder, frame 1 bucket 1, frame 3 bucket 2; the removal
    # (back to bucket 1), the mask prompt (bucket 2 again) and the new frame size compile nothing
    assert graphs == [1, 2, 2, 3, 3, 3, 3, 3, 3]
    assert tracker.compiled.stats.graphs == ["encoder", "step x 1", "step x 2"]
    assert tracker.compiled.stats.eager == {}
    # a second tracker of the same model reuses the graphs
    again, graphs = run_clip(Tracker(micro, max_objects=2, compile=True))
    assert graphs[-1] == 3
    for k, (ours, theirs) in enumerate(zip(again, eager)):
        assert_close(ours, theirs, f"second tracker, result {k}")


def test_a_graph_that_fails_to_compile_runs_eagerly_with_a_warning(micro, monkeypatch):

    def broken(*args):
        raise RuntimeError("inductor cannot build this here")

    tracker = Tracker(micro, max_objects=2, compile=True)
    monkeypatch.setattr(tracker.compiled, "_encoder", broken)
    monkeypatch.setattr(tracker.compiled, "_step", broken)
    clip = frames(3)
    eager = Tracker(micro, max_objects=2)
    with pytest.warns(UserWarning, match="cannot compile the encoder graph"):
        tracker.track(clip[0])
    eager.track(clip[0])
    for t in (tracker, eager):
        t.add_prompt(1, points=[[16, 24]], labels=[1])
    with pytest.warns(UserWarning, match="cannot compile the step x 1 graph"):
        ours = tracker.track(clip[1])
    assert_close(ours, eager.track(clip[1]), "eager fallback")
    assert "inductor cannot build" in tracker.compiled.stats.eager["step x 1"]
    assert_close(tracker.track(clip[2]), eager.track(clip[2]), "eager fallback, next frame")
    assert set(tracker.compiled.stats.eager) == {"encoder", "step x 1"}
