# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The GPU check behind ``make gpu-check``: tests, benchmarks and the memory check in one timed run.

Run by ``scripts/gpu_check.sh`` (which installs the carried wheels first). Stages run in order,
each as a child process with a time limit cut to what is left of ``--budget-s``; a stage that
does not fit is skipped and says so. Results go to ``--out``: gpu_check.json (everything),
gpu_check.md (the tables) and gpu_check.log (every stage's output); the last line printed is a
one-line summary. ``--dry-run`` runs the same stages on the CPU at tiny sizes (for this repository's
CI-less machines: it checks the plumbing, not the GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = ["sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large"]


@dataclass
class Stage:
    name: str
    what: str  # one line for the report
    argv: list[str]
    cap_s: float  # the most this stage may take
    min_s: float  # skipped when less than this is left
    json_path: Path | None = None
    optional: bool = False  # run with what is left; earlier stages keep no time for it
    status: str = "not run"  # done, failed (rc N), timed out, skipped (...)
    seconds: float = 0.0
    result: object = None
    tail: list[str] = field(default_factory=list)


def stages(args: argparse.Namespace, work: Path) -> list[Stage]:
    py = sys.executable
    dry = args.dry_run
    device = "cpu" if dry else "cuda"
    dtype = "float32" if dry else "bfloat16"
    small = ["--image-size", "64", "--width", "96", "--height", "64"] if dry else []
    out = []
    pytest = [py, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "test"]
    pytest += ["--timeout", "300", "--junitxml", str(work / "junit.xml")]
    tiny = [py, "-m", "sam2_core.bench", "--model", "sam2.1_hiera_tiny", "--device", device, "--dtype", dtype]
    if dry:
        tiny += ["--frames", "4", "--warmup", "2", "--objects", "1,2", *small]
    else:  # 200 timed frames; ours compiled, the reference's compiled VOS predictor
        tiny += ["--frames", "216", "--warmup", "16", "--objects", "1,10", "--compile"]
    tiny += ["--compare-reference", "--json", str(work / "bench_tiny.json")]
    out.append(
        Stage(
            "bench_tiny",
            f"sam2_core.bench tiny, {dtype}, ours {'eager' if dry else 'compiled'} vs the reference"
            f" ({'eager' if dry else 'compiled VOS predictor'})",
            tiny,
            330,  # the reference's VOS predictor compiles with max-autotune: minutes
            60,
            work / "bench_tiny.json",
        )
    )
    out.append(Stage("tests", "the CUDA-marked tests (pytest -m cuda)", pytest, 130, 30, work / "junit.xml"))
    node = [py, "-m", "sam2_ros.bench_node", "--model", "sam2.1_hiera_tiny", "--random-weights"]
    node += ["--objects", "5", "--device", device, "--dtype", dtype, "--json", str(work / "node.json")]
    if dry:
        node += ["--width", "160", "--height", "120", "--frames", "4", "--rate-hz", "0", "--image-size", "64"]
    else:
        node += ["--width", "1280", "--height", "720", "--frames", "150", "--rate-hz", "30"]
    out.append(Stage("node", "sam2_ros.bench_node tiny, 5 objects, real DDS", node, 100, 40, work / "node.json"))
    memory = [py, "-m", "sam2_core.memory_check", "--model", "sam2.1_hiera_tiny", "--device", device]
    memory += ["--dtype", dtype, "--objects", "1", "--json", str(work / "memory.json")]
    memory += ["--frames", "5,20", "--image-size", "64"] if dry else ["--frames", "200,5000", "--compile"]
    out.append(
        Stage(
            "memory",
            f"memory after {'5 / 20' if dry else '200 / 5,000'} frames (tiny, 1 object{'' if dry else ', compiled'})",
            memory,
            110,
            40,
            work / "memory.json",
        )
    )
    for model in OFFICIAL[1:]:
        size = model.split("_hiera_")[1]
        argv = [py, "-m", "sam2_core.bench", "--model", model, "--device", device, "--dtype", dtype]
        argv += ["--frames", "4", "--warmup", "2", "--objects", "1", *small] if dry else ["--frames", "66"]
        if not dry:
            argv += ["--warmup", "6", "--objects", "1,10"]
        argv += ["--compare-reference", "--json", str(work / f"bench_{size}.json")]
        what = f"sam2_core.bench {size}, {dtype}, both eager (no time to compile)"
        out.append(Stage(f"bench_{size}", what, argv, 100, 45, work / f"bench_{size}.json", optional=True))
    if args.only:
        out = [s for s in out if s.name in args.only]
    return out


def run_stage(stage: Stage, timeout: float, log) -> None:
    log.write(f"\n===== {stage.name}: {shlex.join(stage.argv)} (limit {timeout:.0f} s)\n")
    log.flush()
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.run(
            stage.argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
        output, rc = proc.stdout, proc.returncode
        stage.status = "done" if rc == 0 else f"failed (exit {rc})"
    except subprocess.TimeoutExpired as error:
        output = error.stdout if isinstance(error.stdout, str) else (error.stdout or b"").decode(errors="replace")
        stage.status = f"timed out after {timeout:.0f} s"
    stage.seconds = time.monotonic() - started
    log.write(output or "")
    log.flush()
    stage.tail = (output or "").strip().splitlines()[-15:]
    stage.result = read_result(stage)


def read_result(stage: Stage) -> object:
    path = stage.json_path
    if path is None or not path.exists():
        return None
    if path.suffix == ".xml":
        suite = ET.parse(path).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        get = lambda k: int(suite.get(k, 0))  # noqa: E731
        failed = get("failures") + get("errors")
        return {
            "tests": get("tests"),
            "failed": failed,
            "skipped": get("skipped"),
            "passed": get("tests") - failed - get("skipped"),
        }
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------- report
def _f(value, spec=".2f") -> str:
    return "-" if value is None else format(value, spec)


def markdown(stages_run: list[Stage], env: dict, dry: bool) -> str:
    lines = ["# make gpu-check", ""]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines += ["", "| stage | what | status | seconds |", "|---|---|---|---|"]
    lines += [f"| {s.name} | {s.what} | {s.status} | {s.seconds:.0f} |" for s in stages_run]
    benches = [s for s in stages_run if s.name.startswith("bench_") and isinstance(s.result, list)]
    if benches:
        lines += ["", "## sam2_core.bench (ours against Meta's reference, same frames, same weights)", ""]
        lines += [
            "| model | objects | dtype | ours | reference | ours FPS | ref FPS | speed-up | ours p50 / p99 ms "
            "| ref p50 / p99 ms | mean IoU vs ref | ours state MB start -> end | peak CUDA MB ours / ref |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in benches:
            for r in s.result:
                ours = "compiled" if r.get("compile") else "eager"
                lines.append(
                    f"| {r['model']} | {r['objects']} | {r['dtype']} | {ours} | {r.get('reference') or '-'} "
                    f"| {_f(r['ours_fps'])} | {_f(r['reference_fps'])} | {_f(r['speedup'])}x "
                    f"| {_f(r['ours_latency_p50_ms'], '.1f')} / {_f(r['ours_latency_p99_ms'], '.1f')} "
                    f"| {_f(r['reference_latency_p50_ms'], '.1f')} / {_f(r['reference_latency_p99_ms'], '.1f')} "
                    f"| {_f(r['mean_iou_vs_reference'], '.4f')} "
                    f"| {_f(r['ours_state_mb_after_warmup'], '.1f')} -> {_f(r['ours_state_mb_after_run'], '.1f')} "
                    f"| {_f(r['ours_peak_device_mb'], '.0f')} / {_f(r['reference_peak_device_mb'], '.0f')} |"
                )
    node = next((s for s in stages_run if s.name == "node" and isinstance(s.result, dict)), None)
    if node:
        r = node.result
        lines += ["", "## sam2_ros.bench_node (the node over real DDS)", ""]
        lines += [
            "| model | objects | frame | rate Hz | dtype | tracker step p50 ms | node overhead p50 / p99 ms "
            "| latency p50 / p99 ms | output Hz | dropped |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {r['model']} | {r['objects']} | {r['width']} x {r['height']} | {r['rate_hz']:g} | {r['dtype']} "
            f"| {_f(r['tracker_step_ms_p50'], '.1f')} | {_f(r['node_overhead_ms_p50'], '.2f')} / "
            f"{_f(r['node_overhead_ms_p99'], '.2f')} | {_f(r['latency_ms_p50'], '.1f')} / "
            f"{_f(r['latency_ms_p99'], '.1f')} | {_f(r['output_hz'], '.1f')} "
            f"| {r['frames_dropped']} of {r['frames']} |",
        ]
    memory = next((s for s in stages_run if s.name == "memory" and isinstance(s.result, dict)), None)
    if memory:
        lines += [
            "",
            "## memory check",
            "",
            "| frames | state MB | CUDA allocated MB | CUDA reserved MB |",
            "|---|---|---|---|",
        ]
        for r in memory.result["rows"]:
            alloc, reserved = r.get("cuda_allocated_bytes"), r.get("cuda_reserved_bytes")
            lines.append(
                f"| {r['frames']} | {r['state_bytes'] / 2**20:.2f} | {_f(alloc and alloc / 2**20)} "
                f"| {_f(reserved and reserved / 2**20)} |"
            )
        lines.append(f"\nflat: {memory.result['flat']} (compared: {', '.join(memory.result['compared'])})")
    if dry:
        lines += ["", "**Dry run on the CPU at tiny sizes: these figures say nothing about a GPU.**"]
    return "\n".join(lines) + "\n"


def summary_line(stages_run: list[Stage], seconds: float) -> str:
    parts = []
    by = {s.name: s for s in stages_run}
    t = by.get("tests")
    if t:
        r = t.result
        parts.append(
            f"tests {r['passed']} passed {r['failed']} failed {r['skipped']} skipped"
            if isinstance(r, dict)
            else f"tests {t.status}"
        )
    for name, s in by.items():
        if name.startswith("bench_"):
            rows = s.result if isinstance(s.result, list) else []
            speed = "/".join(f"{r['objects']}obj {_f(r['speedup'])}x" for r in rows) or s.status
            parts.append(f"{name[6:]} {speed}")
    n = by.get("node")
    if n:
        r = n.result if isinstance(n.result, dict) else None
        parts.append(
            f"node overhead p50 {_f(r['node_overhead_ms_p50'])} ms, latency p50 {_f(r['latency_ms_p50'], '.1f')} ms"
            if r
            else f"node {n.status}"
        )
    m = by.get("memory")
    if m:
        parts.append(
            f"memory {'flat' if m.result['flat'] else 'GROWS'}" if isinstance(m.result, dict) else f"memory {m.status}"
        )
    done = sum(s.status == "done" for s in stages_run)
    return f"gpu-check: {done}/{len(stages_run)} stages done in {seconds:.0f} s; " + "; ".join(parts)


def environment(dry: bool) -> dict:
    import torch

    env = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (dry run)" if dry else "none",
    }
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if smi.returncode == 0:
            env["nvidia-smi"] = smi.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "gpu_check_out"))
    parser.add_argument("--budget-s", type=float, default=float(os.environ.get("GPU_CHECK_BUDGET_S", 480)))
    parser.add_argument("--dry-run", action="store_true", help="the CPU at tiny sizes (checks the plumbing)")
    parser.add_argument("--only", nargs="+", help="run only these stages (e.g. a rerun of bench_tiny)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    deadline = started + args.budget_s
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("GPU_CHECK_WORK", "/tmp/sam2_gpu_check"))
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*"):
        old.unlink()
    env = environment(args.dry_run)
    if not args.dry_run and env["device"] == "none":
        print("gpu-check: PyTorch sees no CUDA GPU here (use --dry-run on a CPU machine)", file=sys.stderr)
        return 2
    plan = stages(args, work)
    with open(out / "gpu_check.log", "w") as log:
        log.write(json.dumps(env) + "\n")
        for i, stage in enumerate(plan):
            left = deadline - time.monotonic()
            # keep the minimum of every later stage, so one slow stage cannot starve the rest
            later = sum(s.min_s for s in plan[i + 1 :] if not s.optional)
            limit = min(stage.cap_s, left - later) if left - later >= stage.min_s else min(stage.cap_s, left)
            if limit < stage.min_s:
                stage.status = f"skipped (only {max(left, 0):.0f} s left)"
                continue
            print(f"gpu-check: {stage.name} (at most {limit:.0f} s) ...", file=sys.stderr, flush=True)
            run_stage(stage, limit, log)
            print(f"gpu-check: {stage.name}: {stage.status} in {stage.seconds:.0f} s", file=sys.stderr, flush=True)
    seconds = time.monotonic() - started
    report = {"environment": env, "dry_run": args.dry_run, "seconds": seconds, "stages": [asdict(s) for s in plan]}
    for s in report["stages"]:
        s["json_path"] = str(s["json_path"]) if s["json_path"] else None
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "gpu_check.md").write_text(markdown(plan, env, args.dry_run))
    line = summary_line(plan, seconds)
    print(line)
    return 0 if all(s.status == "done" for s in plan) else 1


if __name__ == "__main__":
    raise SystemExit(main())
