# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_core.memory_check``: the tracker's memory after N frames equals that after fewer.

One click per object on frame 0 of a synthetic clip (a few distinct frames, played back and forth
so motion stays smooth), then ``max(--frames)`` tracked frames. At each count in ``--frames`` it
records the bytes of the tensors the tracker keeps, CUDA's allocated and reserved bytes (on a GPU)
and the process's resident memory. Flat: the tracker's state and CUDA's allocated bytes are the
same at every count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence

import torch

from .bench import DTYPES, FrameSource, random_checkpoint
from .bench_measure import tensor_bytes
from .build import build_model
from .tracker import Tracker

MB = 2**20


def resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def measure(tracker: Tracker, device: torch.device) -> dict:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    row = {"state_bytes": tensor_bytes(tracker), "process_resident_bytes": resident_bytes()}
    if device.type == "cuda":
        row["cuda_allocated_bytes"] = int(torch.cuda.memory_allocated(device))
        row["cuda_reserved_bytes"] = int(torch.cuda.memory_reserved(device))
    return row


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    counts = sorted(set(args.frames))
    source = FrameSource(
        argparse.Namespace(
            video=None,
            frames=args.distinct_frames,
            objects=[args.objects],
            height=args.height,
            width=args.width,
            seed=0,
        )
    )
    clip = list(source.frames())
    cycle = clip + clip[-2:0:-1]  # back and forth
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = args.checkpoint or random_checkpoint(args.model, 0, folder)
        model = build_model(
            args.model, checkpoint=checkpoint, device=device, dtype=DTYPES[args.dtype], image_size=args.image_size
        )
    tracker = Tracker(model, max_objects=max(args.objects, 1), compile=args.compile)
    rows = []
    started = time.perf_counter()
    with torch.inference_mode():
        tracker.track(cycle[0])
        for obj_id, points, labels in source.clicks(args.objects):
            tracker.add_prompt(obj_id, points=points, labels=labels)
        for t in range(1, counts[-1] + 1):
            tracker.track(cycle[t % len(cycle)])
            if t in counts:
                rows.append({"frames": t, "seconds": time.perf_counter() - started, **measure(tracker, device)})
                print(f"memory_check: {t} frames", file=sys.stderr, flush=True)
    keys = ["state_bytes"] + (["cuda_allocated_bytes"] if device.type == "cuda" else [])
    flat = all(len({r[k] for r in rows}) == 1 for k in keys)
    return {
        "model": args.model,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "dtype": args.dtype,
        "compile": args.compile,
        "objects": args.objects,
        "rows": rows,
        "compared": keys,
        "flat": flat,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sam2_core.memory_check", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--checkpoint", help="official-format checkpoint (default: random weights)")
    parser.add_argument("--frames", default="200,5000", help="frame counts to compare, e.g. 200,5000")
    parser.add_argument("--objects", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument("--compile", action="store_true", help="Tracker(compile=True)")
    parser.add_argument("--image-size", type=int, help="model input size (multiple of 32)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--distinct-frames", type=int, default=12)
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: 1 on the CPU, as sam2_core.bench)")
    args = parser.parse_args(argv)
    try:
        args.frames = [int(v) for v in args.frames.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--frames takes comma-separated counts, got {args.frames!r}")
    if len(args.frames) < 2 or min(args.frames) < 1:
        parser.error("--frames needs two or more positive counts")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads or args.device == "cpu":
        torch.set_num_threads(args.threads or 1)
    try:
        result = run(args)
    finally:
        torch.set_num_threads(threads)  # main() may run inside another program (tests)
    for r in result["rows"]:
        cuda = f", CUDA allocated {r['cuda_allocated_bytes'] / MB:.1f} MB" if "cuda_allocated_bytes" in r else ""
        print(f"after {r['frames']} frames: state {r['state_bytes'] / MB:.2f} MB{cuda} ({r['seconds']:.1f} s)")
    print(f"flat: {result['flat']} ({', '.join(result['compared'])})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if result["flat"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
