# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node with ``compile:=true`` on the CPU: configure, a warm-up that compiles every bucket, tracking.

The network is test_compiled_tracker's micro configuration (random weights in an official-format
checkpoint), so when both files run in one session the graphs come from torch's compile cache.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from micro_model import micro_config
from node_harness import Harness, Ros

from sam2_core.build import build_model
from sam2_core.config import register_model
from sam2_ros.image_conversion import image_to_array
from sam2_ros.tracker_factory import make_tracker

MICRO = micro_config("compile_test_micro")  # as test_compiled_tracker's


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    register_model(MICRO)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("compile") / "micro.pt"
    torch.save({"model": build_model(MICRO.name).state_dict()}, path)
    return str(path)


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


def test_node_configures_warms_up_and_tracks_with_compile(ros, checkpoint):
    h = Harness(
        ros,
        make_tracker,
        model=MICRO.name,
        checkpoint=checkpoint,
        device="cpu",
        compile=True,
        max_objects=2,
        warmup=True,
    )
    try:
        h.start()  # activation's warm-up compiles the encoder and buckets 1 and 2
        line = h.wait_log("warm-up took", timeout=60)
        assert "encoder, step x 1, step x 2" in line and "for 1, 2 object(s)" in line, line
        tracker = h.node._session.tracker
        assert tracker.compiled is not None and tracker.compiled.stats.eager == {}
        h.track(1)
        assert h.add_prompt(1, label="cup", points=[(20, 20)]).success
        assert h.add_prompt(2, box=[30, 10, 60, 40]).success
        label, objects = h.track(2)
        assert [(o.id, o.label) for o in objects.objects] == [(1, "cup"), (2, "")]
        assert set(np.unique(image_to_array(label)).tolist()) <= {0, 1, 2}
        assert tracker.compiled.stats.graphs == ["encoder", "step x 1", "step x 2"]  # nothing new after warm-up
    finally:
        h.close()
