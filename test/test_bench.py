# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The benchmark CLI end to end on a tiny clip: rows, JSON keys, memory figures, the optional reference."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest
import torch

from sam2_core import bench
from sam2_core.bench_measure import mask_iou, tensor_bytes
from sam2_core.bench_reference import ReferenceUnavailable, build_reference

# a small model input and frame keep one run to a few seconds; the semantics do not depend on the size
SMALL = ["--model", "sam2.1_hiera_tiny", "--frames", "4", "--image-size", "256"]
SMALL += ["--height", "96", "--width", "128"]
REQUIRED = (
    "objects",
    "ours_fps",
    "reference_fps",
    "ours_latency_p50_ms",
    "ours_latency_p99_ms",
    "mean_iou_vs_reference",
)


THREADS = torch.get_num_threads()


BENCH_STDERR: list[str] = []  # what the compared run wrote to stderr


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "rows.json"
    argv = [*SMALL, "--objects", "2", "--device", "cpu", "--compare-reference", "--json", str(out)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert bench.main(argv) == 0
    BENCH_STDERR.append(err.getvalue())
    return json.loads(out.read_text())


def test_reference_progress_bars_do_not_interleave_with_the_output(compared):
    assert "propagate in video" not in BENCH_STDERR[0] and "frame loading" not in BENCH_STDERR[0]


def test_json_rows_have_the_contract_keys(compared):
    assert isinstance(compared, list) and len(compared) == 1
    row = compared[0]
    for key in REQUIRED:
        assert key in row, key
    assert row["objects"] == 2
    assert row["timed_frames"] == 2  # 4 frames, the default 2 of warm-up
    assert row["device"] == "cpu" and row["reference"] == "sam2 1.1.0 SAM2VideoPredictor"
    assert row["threads"] == 1  # the CPU default, for both runners
    assert torch.get_num_threads() == THREADS  # main() puts the caller's setting back


def test_speed_figures_are_sane(compared):
    row = compared[0]
    for who in ("ours", "reference"):
        assert row[f"{who}_fps"] > 0
        assert 0 < row[f"{who}_latency_p50_ms"] <= row[f"{who}_latency_p99_ms"]
        # FPS is timed frames over their total time, so it lies between the slowest and fastest frame's
        assert 1000 / row[f"{who}_latency_p99_ms"] <= row[f"{who}_fps"] * (1 + 1e-9)
        assert row[f"{who}_warmup_s"] > 0
        assert row[f"{who}_cpu_ms_per_frame"] > 0
    assert row["speedup"] == pytest.approx(row["ours_fps"] / row["reference_fps"])


def test_masks_agree_with_the_reference(compared):
    row = compared[0]
    # same weights, fp32 on CPU, no hole filling on either side: the masks agree to a few boundary
    # pixels at most (logits agree to ~1e-5)
    assert row["ours_fill_hole_area"] == 0 and row["reference_fill_hole_area"] == 0
    assert row["mean_iou_vs_reference"] >= 0.99
    assert 0.0 <= row["min_iou_vs_reference"] <= row["mean_iou_vs_reference"] <= 1.0


def test_memory_is_bounded_for_ours_and_grows_for_the_reference(compared):
    row = compared[0]
    assert row["ours_state_mb_after_warmup"] > 0
    assert row["ours_state_mb_after_run"] == row["ours_state_mb_after_warmup"]
    # the reference keeps every frame's outputs
    assert row["reference_state_mb_after_run"] > row["reference_state_mb_after_warmup"]
    assert row["ours_peak_device_mb"] is None  # attributed per runner on CUDA only
    assert row["process_peak_rss_mb"] > 0


def test_table_is_printed(compared, capsys):
    # the fixture's output was captured by its own test; run the formatter on the rows again
    print(bench.format_table(compared, on_cuda=False))
    out = capsys.readouterr().out
    assert out.startswith("| objects | ours FPS | ref FPS |")
    assert out.strip().count("\n") == 2  # header, rule, one row


def test_runs_without_the_reference(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sam2.build_sam", None)  # importing it now raises ImportError
    out = tmp_path / "rows.json"
    assert bench.main([*SMALL, "--frames", "3", "--objects", "1", "--device", "cpu", "--json", str(out)]) == 0
    row = json.loads(out.read_text())[0]
    assert row["ours_fps"] > 0 and row["ours_fill_hole_area"] == 8
    assert row["reference_fps"] is None and row["mean_iou_vs_reference"] is None and row["speedup"] is None
    assert "| 1 |" in capsys.readouterr().out


def test_missing_reference_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sam2.build_sam", None)
    with pytest.raises(ReferenceUnavailable, match="pip install --no-deps sam2==1.1.0"):
        build_reference("sam2.1_hiera_tiny", str(tmp_path / "x.pt"), device=torch.device("cpu"))
    with pytest.raises(ReferenceUnavailable, match="no reference implementation"):
        build_reference("sam2.1_hiera_nano", str(tmp_path / "x.pt"), device=torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where CUDA is absent")
def test_cuda_requested_without_cuda_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err


def test_argument_errors(capsys):
    for argv, message in (
        (["--device", "cpu", "--frames", "2"], "--warmup < --frames"),
        (["--device", "cpu", "--objects", "0,2"], "between 1 and 100"),
        (["--device", "cpu", "--model", "nope"], "unknown model name"),
    ):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
        assert message in capsys.readouterr().err


def test_compile_is_the_trackers_own_and_runs_on_the_cpu_too():
    args = bench.parse_args(["--device", "cpu", "--compile"])
    assert args.compile and args.warmup == 16  # the reference stays eager there (its VOS predictor is CUDA-only)
    assert not hasattr(bench, "compile_model")  # no bench-only compile path: Tracker(compile=True)


def test_mask_iou_and_tensor_bytes():
    a = torch.zeros(3, 4, 4, dtype=torch.bool)
    b = a.clone()
    a[0, :2], b[0, 1:3] = True, True  # 4 shared of 12 pixels
    a[1] = True  # one empty, one full
    assert mask_iou(a, b).tolist() == pytest.approx([1 / 3, 0.0, 1.0])  # both empty: 1.0
    t = torch.zeros(10, 10)
    # views share one storage; modules are weights, not state
    assert tensor_bytes({"a": t, "b": [t[0], t.expand(2, 10, 10)], "m": torch.nn.Linear(3, 3)}) == 400


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cuda_rows_attribute_device_memory(tmp_path, dtype):
    out = tmp_path / "rows.json"
    argv = [*SMALL, "--objects", "2", "--device", "cuda", "--dtype", dtype, "--compare-reference"]
    argv += ["--json", str(out)]
    assert bench.main(argv) == 0
    row = json.loads(out.read_text())[0]
    assert row["device"] == "cuda" and row["cuda"] == torch.version.cuda
    for who in ("ours", "reference"):
        assert row[f"{who}_fps"] > 0
        # the weights alone are ~150 MB (tiny, fp32; half in bf16 for ours): peaks include them
        assert row[f"{who}_peak_device_mb"] > 50
    assert row["ours_state_mb_after_run"] == row["ours_state_mb_after_warmup"]
    # fp32: equal masks up to boundary pixels. bf16 (ours in bf16, the reference under bf16 autocast)
    # rounds differently on each side; its agreement is a benchmark figure, not a test threshold
    assert 0.0 <= row["mean_iou_vs_reference"] <= 1.0
    if dtype == "float32":
        assert row["mean_iou_vs_reference"] >= 0.99
