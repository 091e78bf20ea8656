# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""python -m sam2_ros.bench_node (the real node over real DDS) and python -m sam2_core.memory_check, small."""

from __future__ import annotations

import json
import os

from sam2_core import memory_check
from sam2_ros import bench_node


def test_bench_node_times_the_real_node_frame_by_frame(tmp_path, capsys):
    out = tmp_path / "node.json"
    argv = ["--model", "sam2.1_hiera_nano", "--objects", "2", "--width", "160", "--height", "120", "--frames", "3"]
    argv += ["--device", "cpu", "--json", str(out), "--domain-id", str(201 + os.getpid() % 30)]
    assert bench_node.main(argv) == 0
    r = json.loads(out.read_text())
    for key in ("tracker_step_ms_p50", "node_overhead_ms_p50", "latency_ms_p50", "latency_ms_p99", "output_hz"):
        assert r[key] is not None and r[key] > 0, key
    assert r["frames_dropped"] == 0 and r["frames_with_output"] == 3
    assert r["device"] == "cpu" and r["device_name"] and r["torch"] and r["cuda"] is None
    # the label image arrives after the step and the node's own work are done
    assert r["latency_ms_p50"] >= r["tracker_step_ms_p50"]
    assert "| sam2.1_hiera_nano | 2 | 160 x 120 |" in capsys.readouterr().out


def test_memory_check_reports_flat_state(tmp_path):
    out = tmp_path / "memory.json"
    argv = ["--model", "sam2.1_hiera_tiny", "--image-size", "64", "--frames", "3,9", "--device", "cpu"]
    argv += ["--width", "96", "--height", "64", "--json", str(out)]
    assert memory_check.main(argv) == 0
    r = json.loads(out.read_text())
    assert [row["frames"] for row in r["rows"]] == [3, 9] and r["flat"] and r["compared"] == ["state_bytes"]
    assert r["rows"][0]["state_bytes"] == r["rows"][1]["state_bytes"] > 0
