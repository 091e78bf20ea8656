# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""make gpu-check's plan and report (it runs once, blind, on a lent GPU): every command parses, reports render."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from sam2_core import bench, memory_check
from sam2_ros import bench_node

ROOT = Path(__file__).resolve().parents[1]


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dry_run", [False, True])
def test_every_stage_is_a_command_its_tool_accepts(dry_run, tmp_path, monkeypatch):
    gpu_check = load_gpu_check()
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: True)  # the GPU plan, parsed here
    plan = gpu_check.stages(argparse.Namespace(dry_run=dry_run, only=None), tmp_path)
    names = [s.name for s in plan]
    # the targets' benchmark first, with the most time; the larger models with whatever is left
    assert names == ["bench_tiny", "tests", "node", "memory", "bench_small", "bench_base_plus", "bench_large"]
    # a bench_tiny that takes all its time still leaves every later required stage its minimum
    assert plan[0].cap_s + sum(s.min_s for s in plan[1:] if not s.optional) <= 480
    assert plan[0].cap_s == max(s.cap_s for s in plan)
    parsers = {"sam2_core.bench": bench.parse_args, "sam2_core.memory_check": memory_check.parse_args}
    parsers["sam2_ros.bench_node"] = bench_node.parse_args
    for stage in plan:
        if stage.name == "tests":
            assert stage.argv[1:5] == ["-m", "pytest", "-m", "cuda"]
            continue
        module = stage.argv[2]
        args = parsers[module](stage.argv[3:])
        assert args.device == ("cpu" if dry_run else "cuda")
        assert args.json == str(stage.json_path)
    tiny = bench.parse_args(plan[0].argv[3:])
    if not dry_run:  # the targets' run: 200 timed frames, bf16, compiled against the compiled VOS predictor
        assert (tiny.frames - tiny.warmup, tiny.dtype, tiny.compile, tiny.objects) == (200, "bfloat16", True, [1, 10])
        node = bench_node.parse_args(plan[2].argv[3:])
        assert (node.width, node.height, node.rate_hz) == (1280, 720, 30.0)
        assert memory_check.parse_args(plan[3].argv[3:]).frames == [200, 5000]
    only = gpu_check.stages(argparse.Namespace(dry_run=dry_run, only=["node"]), tmp_path)
    assert [s.name for s in only] == ["node"]


def test_reports_render_from_stage_results(tmp_path):
    gpu_check = load_gpu_check()
    plan = gpu_check.stages(argparse.Namespace(dry_run=False, only=None), tmp_path)
    by = {s.name: s for s in plan}
    row = {
        "model": "sam2.1_hiera_tiny", "objects": 1, "dtype": "bfloat16", "compile": True,
        "reference": "sam2 1.1.0 SAM2VideoPredictorVOS (compiled)", "ours_fps": 90.0, "reference_fps": 45.0,
        "speedup": 2.0, "ours_latency_p50_ms": 11.0, "ours_latency_p99_ms": 12.0,
        "reference_latency_p50_ms": 22.0, "reference_latency_p99_ms": 25.0, "mean_iou_vs_reference": 0.99,
        "ours_state_mb_after_warmup": 5.0, "ours_state_mb_after_run": 5.0, "ours_peak_device_mb": 300.0,
        "reference_peak_device_mb": 400.0,
    }  # fmt: skip
    by["tests"].result, by["tests"].status = {"tests": 7, "failed": 0, "skipped": 0, "passed": 7}, "done"
    by["bench_tiny"].result, by["bench_tiny"].status = [row, {**row, "objects": 10, "speedup": 4.0}], "done"
    node = {
        "model": "sam2.1_hiera_tiny", "objects": 5, "width": 1280, "height": 720, "rate_hz": 30.0,
        "dtype": "bfloat16", "tracker_step_ms_p50": 12.0, "node_overhead_ms_p50": 1.5, "node_overhead_ms_p99": 3.0,
        "latency_ms_p50": 20.0, "latency_ms_p99": 30.0, "output_hz": 30.0, "frames_dropped": 0, "frames": 150,
    }  # fmt: skip
    by["node"].result, by["node"].status = node, "done"
    rows = [{"frames": 200, "state_bytes": 2**20}, {"frames": 5000, "state_bytes": 2**20}]
    by["memory"].result = {"rows": rows, "flat": True, "compared": ["state_bytes"]}
    by["memory"].status = "done"
    by["bench_large"].status = "skipped (only 10 s left)"
    text = gpu_check.markdown(plan, {"torch": "2.11.0"}, dry=False)
    assert "| sam2.1_hiera_tiny | 10 | bfloat16 | compiled |" in text and "4.00x" in text
    assert "1.50 / 3.00" in text and "flat: True" in text and "skipped (only 10 s left)" in text
    line = gpu_check.summary_line(plan, 300.0)
    assert line.startswith("gpu-check: 4/7 stages done in 300 s; tests 7 passed 0 failed 0 skipped")
    assert "tiny 1obj 2.00x/10obj 4.00x" in line and "node overhead p50 1.50 ms" in line and "memory flat" in line
    json.dumps({"line": line})


def test_the_shell_entry_points_are_executable_and_documented():
    for name in ("gpu_check.sh", "gpu_wheels.sh"):
        path = ROOT / "scripts" / name
        assert path.stat().st_mode & 0o111, f"{name} is not executable"
    makefile = (ROOT / "Makefile").read_text()
    assert "gpu-check:" in makefile and "bash scripts/gpu_check.sh" in makefile
    assert "gpu-check:\n\tbash" in makefile  # no venv dependency: the GPU machine has no network
