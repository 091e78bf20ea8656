# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_core.bench``: our Tracker against Meta's reference predictor on the same frames."""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from .bench_measure import (
    ProcessPeakMemory,
    StepMeter,
    device_name,
    fps,
    mask_iou,
    module_bytes,
    percentile_ms,
    tensor_bytes,
)
from .bench_reference import ReferenceRunner, ReferenceUnavailable, build_reference, reference_fills_holes
from .build import build_model
from .config import get_config
from .synthetic import SceneConfig, SyntheticScene
from .tracker import Tracker

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
MB = 2**20
# compiled steps need more warm-up: compilation, and the memory bank filling up (7 memories, 16 pointers)
DEFAULT_WARMUP = {False: 2, True: 16}

Click = tuple[int, np.ndarray, np.ndarray]  # obj_id, P x 2 pixel (x, y) float32, P int32 labels


# ---------------------------------------------------------------------------------------- frames
class FrameSource:
    """The benchmark clip: frames of a seeded synthetic scene, or of a video file read with OpenCV."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.video = args.video
        self.num_frames = args.frames
        self.max_objects = max(args.objects)
        if self.video is None:
            config = SceneConfig(
                height=args.height,
                width=args.width,
                num_frames=args.frames,
                num_objects=(self.max_objects, self.max_objects),
            )
            self.scene = SyntheticScene(args.seed, config)
            self.height, self.width = args.height, args.width
        else:
            first = next(self._read_video(1))
            self.height, self.width = first.shape[:2]

    def describe(self) -> str:
        if self.video is None:
            return f"synthetic scene (seed {self.scene.seed}), {self.width} x {self.height}"
        return f"video {self.video}, {self.width} x {self.height}"

    def frames(self) -> Iterator[np.ndarray]:
        """The clip's ``H x W x 3`` uint8 RGB frames, rendered / decoded one at a time."""
        if self.video is not None:
            yield from self._read_video(self.num_frames)
            return
        for t in range(self.num_frames):
            yield self.scene.render(t)[0]

    def _read_video(self, count: int) -> Iterator[np.ndarray]:
        capture = cv2.VideoCapture(self.video)
        if not capture.isOpened():
            raise SystemExit(f"error: cannot open video {self.video!r}")
        try:
            for i in range(count):
                ok, bgr = capture.read()
                if not ok:
                    raise SystemExit(f"error: video {self.video!r} has only {i} frames, {count} requested")
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    def clicks(self, count: int) -> list[Click]:
        """One positive click per object on frame 0: for synthetic objects the mask pixel nearest the
        mask's centroid; for a video, the centres of a ``ceil(sqrt(count))``-column grid."""
        clicks = []
        if self.video is None:
            _, masks, _ = self.scene.frame(0)
            for obj_id, mask in zip(self.scene.obj_ids[:count], masks[:count]):
                ys, xs = np.nonzero(mask)
                i = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
                clicks.append((int(obj_id), np.array([[xs[i], ys[i]]], np.float32), np.array([1], np.int32)))
            return clicks
        cols = math.ceil(math.sqrt(count))
        rows = math.ceil(count / cols)
        for k in range(count):
            x = (k % cols + 0.5) / cols * self.width
            y = (k // cols + 0.5) / rows * self.height
            clicks.append((k + 1, np.array([[x, y]], np.float32), np.array([1], np.int32)))
        return clicks


# ---------------------------------------------------------------------------------------- ours
class OursRunner:
    """Our Tracker with the same interface as ``ReferenceRunner``: masks come back on the CPU."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def start(self, frame: np.ndarray, clicks: list[Click]) -> torch.Tensor:
        self.tracker.reset()
        result = self.tracker.track(frame)
        for obj_id, points, labels in clicks:
            result = self.tracker.add_prompt(obj_id, points=points, labels=labels)
        return result.masks.cpu()

    def step(self, index: int, frame: np.ndarray) -> torch.Tensor:
        result = self.tracker.track(frame)
        if result.frame_index != index:
            raise RuntimeError(f"tracker processed frame {result.frame_index}, expected {index}")
        return result.masks.cpu()

    @property
    def obj_ids(self) -> list[int]:
        return self.tracker.obj_ids

    def state_tensors(self) -> object:
        return self.tracker


def random_checkpoint(name: str, seed: int, folder: str) -> str:
    """An official-format checkpoint (``{"model": state_dict}``) of seeded random weights for ``name``.

    A network's fresh initialization has many exact zeros and ones (biases, norms); seeded noise on every
    parameter makes all of them matter, as trained weights do.
    """
    torch.manual_seed(seed)
    model = build_model(name)
    noise = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=noise) * 0.02)
    path = f"{folder}/random_weights_seed{seed}.pt"
    torch.save({"model": model.state_dict()}, path)
    return path


# ---------------------------------------------------------------------------------------- run
@dataclass
class Contestant:
    """One runner in one row, with what was measured of it."""

    name: str  # "ours" or "reference"
    runner: OursRunner | ReferenceRunner
    meter: StepMeter
    times: list[float] = field(default_factory=list)  # seconds per timed frame
    cpu_times: list[float] = field(default_factory=list)  # process CPU seconds per timed frame
    warmup: list[float] = field(default_factory=list)  # seconds per warm-up frame
    state_bytes: list[int] = field(default_factory=list)  # after warm-up, after the last frame


def run_row(args: argparse.Namespace, source: FrameSource, contestants: list[Contestant], count: int) -> dict:
    """Track the clip with every contestant for ``count`` objects, alternating frame by frame (who goes
    first flips every frame, so both see the same machine state); returns the row's figures."""
    clicks = source.clicks(count)
    peak = ProcessPeakMemory()
    peak.start()
    ious: list[np.ndarray] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection lands in a random runner's step; collect between frames
    try:
        _track_clip(args, source, contestants, clicks, ious)
    finally:
        if gc_was_enabled:
            gc.enable()
    return _row(count, contestants, ious, peak)


def _track_clip(
    args: argparse.Namespace,
    source: FrameSource,
    contestants: list[Contestant],
    clicks: list[Click],
    ious: list[np.ndarray],
) -> None:
    for t, frame in enumerate(source.frames()):
        gc.collect()
        if t == 0:
            for c in contestants:
                if isinstance(c.runner, ReferenceRunner):
                    c.meter.run(lambda c=c, frame=frame: c.runner.init(frame))  # untimed setup
        masks = {}
        for c in contestants if t % 2 == 0 else contestants[::-1]:
            if t == 0:
                step = lambda c=c, frame=frame: c.runner.start(frame, clicks)  # noqa: E731
            else:
                step = lambda c=c, t=t, frame=frame: c.runner.step(t, frame)  # noqa: E731
            masks[c.name], elapsed, cpu = c.meter.run(step)
            if t >= args.warmup:
                c.times.append(elapsed)
                c.cpu_times.append(cpu)
            else:
                c.warmup.append(elapsed)
        if len(contestants) == 2:
            ours, ref = contestants
            if ours.runner.obj_ids != ref.runner.obj_ids:
                ids = f"ours {ours.runner.obj_ids}, reference {ref.runner.obj_ids}"
                raise RuntimeError(f"object ids differ: {ids}")
            ious.append(mask_iou(masks["ours"], masks["reference"]))
        if t in (args.warmup - 1, args.frames - 1):
            for c in contestants:
                c.state_bytes.append(tensor_bytes(c.runner.state_tensors()))


def _row(count: int, contestants: list[Contestant], ious: list[np.ndarray], peak: ProcessPeakMemory) -> dict:
    row: dict = {"objects": count}
    for name in ("ours", "reference"):
        c = next((c for c in contestants if c.name == name), None)
        row[f"{name}_fps"] = fps(c.times) if c else None
        row[f"{name}_latency_p50_ms"] = percentile_ms(c.times, 50) if c else None
        row[f"{name}_latency_p99_ms"] = percentile_ms(c.times, 99) if c else None
        row[f"{name}_warmup_s"] = sum(c.warmup) if c else None
        row[f"{name}_cpu_ms_per_frame"] = 1e3 * sum(c.cpu_times) / len(c.cpu_times) if c else None
        row[f"{name}_state_mb_after_warmup"] = c.state_bytes[0] / MB if c else None
        row[f"{name}_state_mb_after_run"] = c.state_bytes[-1] / MB if c else None
        peak_bytes = c.meter.peak_bytes if c else None
        row[f"{name}_peak_device_mb"] = peak_bytes / MB if peak_bytes is not None else None
    row["speedup"] = row["ours_fps"] / row["reference_fps"] if row["reference_fps"] else None
    all_iou = np.concatenate(ious) if ious else None
    row["mean_iou_vs_reference"] = float(all_iou.mean()) if all_iou is not None else None
    row["min_iou_vs_reference"] = float(all_iou.min()) if all_iou is not None else None
    row["process_peak_rss_mb"] = peak.peak_bytes() / MB
    row["process_peak_rss_span"] = peak.since
    row["timed_frames"] = len(contestants[0].times)
    return row


# ---------------------------------------------------------------------------------------- report
def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _state(row: dict, who: str) -> str:
    start, end = row[f"{who}_state_mb_after_warmup"], row[f"{who}_state_mb_after_run"]
    return f"{_fmt(start, '.1f')} -> {_fmt(end, '.1f')}"


def format_table(rows: list[dict], on_cuda: bool) -> str:
    """The rows as a markdown table."""
    peak_title = "peak CUDA MB ours / ref" if on_cuda else "process peak RSS MB"
    head = (
        "| objects | ours FPS | ref FPS | speed-up | ours p50 / p99 ms | ref p50 / p99 ms "
        "| CPU ms/frame ours / ref | mean IoU vs ref "
        f"| ours state MB warm-up -> end | ref state MB warm-up -> end | {peak_title} |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        peak = (
            f"{_fmt(r['ours_peak_device_mb'], '.0f')} / {_fmt(r['reference_peak_device_mb'], '.0f')}"
            if on_cuda
            else _fmt(r["process_peak_rss_mb"], ".0f")
        )
        lines.append(
            f"| {r['objects']} | {_fmt(r['ours_fps'])} | {_fmt(r['reference_fps'])} | "
            f"{_fmt(r['speedup'], '.2f')}{'x' if r['speedup'] is not None else ''} | "
            f"{_fmt(r['ours_latency_p50_ms'], '.0f')} / {_fmt(r['ours_latency_p99_ms'], '.0f')} | "
            f"{_fmt(r['reference_latency_p50_ms'], '.0f')} / {_fmt(r['reference_latency_p99_ms'], '.0f')} | "
            f"{_fmt(r['ours_cpu_ms_per_frame'], '.0f')} / {_fmt(r['reference_cpu_ms_per_frame'], '.0f')} | "
            f"{_fmt(r['mean_iou_vs_reference'], '.4f')} | "
            f"{_state(r, 'ours')} | {_state(r, 'reference')} | {peak} |"
        )
    return "\n".join(lines)


def run_info(
    args: argparse.Namespace,
    device: torch.device,
    source: FrameSource,
    fill: dict,
    vos: bool,
) -> dict:
    """What was run where: goes into every JSON row and above the table."""
    cfg = get_config(args.model)
    info = {
        "model": args.model,
        "weights": args.checkpoint or f"random (seed {args.seed})",
        "device": device.type,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "dtype": args.dtype,
        "compile": args.compile,
        "frames": args.frames,
        "warmup_frames": args.warmup,
        "clip": source.describe(),
        "model_input_size": args.image_size or cfg.image_size,
        "ours_fill_hole_area": fill["ours"],
        "reference": None,
        "reference_fill_hole_area": None,
    }
    if args.compare_reference:
        predictor = "SAM2VideoPredictorVOS (compiled)" if vos else "SAM2VideoPredictor"
        info["reference"] = f"sam2 1.1.0 {predictor}"
        if args.dtype == "bfloat16":
            info["reference"] += " under bfloat16 autocast"
        info["reference_fill_hole_area"] = fill["reference"]
    if device.type == "cuda":
        info["memory"] = (
            "state: bytes of the tensors each tracker keeps between frames; peak: CUDA max_memory_allocated "
            "attributed to each runner's steps, weights included"
        )
    else:
        info["memory"] = (
            "state: bytes of the tensors each tracker keeps between frames; peak: process peak RSS "
            "(VmHWM, both runners and both models together)"
        )
    return info


# ---------------------------------------------------------------------------------------- CLI
def _object_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--objects takes comma-separated integers, got {text!r}") from None
    if not counts or min(counts) < 1 or max(counts) > 100:
        raise argparse.ArgumentTypeError(f"--objects needs counts between 1 and 100, got {text!r}")
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sam2_core.bench",
        description="Frames per second, latency, memory and mask agreement of sam2_core's Tracker, "
        "against Meta's reference video predictor (sam2 1.1.0) on the same frames in the same run.",
    )
    parser.add_argument("--model", default="sam2.1_hiera_tiny", help="registered model name")
    parser.add_argument("--frames", type=int, default=100, help="clip length, warm-up included")
    parser.add_argument("--objects", type=_object_counts, default=[1, 10], help="object counts, e.g. 1,10")
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", choices=("cuda", "cpu"), default=default_device)
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="ours: Tracker(compile=True); the reference: its compiled VOS predictor (CUDA only; eager on CPU)",
    )
    parser.add_argument("--compare-reference", action="store_true", help="run the reference alongside ours")
    parser.add_argument("--json", metavar="OUT", help="write the rows as a JSON list to OUT")
    parser.add_argument(
        "--checkpoint", help="official checkpoint ({'model': state_dict}) for both (default: random weights)"
    )
    parser.add_argument("--warmup", type=int, help="untimed first frames (default 2; 16 with --compile)")
    parser.add_argument("--image-size", type=int, help="model input size (multiple of 32)")
    parser.add_argument("--video", help="video file to use instead of the synthetic clip (OpenCV reads it)")
    parser.add_argument("--height", type=int, default=480, help="synthetic frame height")
    parser.add_argument("--width", type=int, default=640, help="synthetic frame width")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clip and the random weights")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads, the same for both (default: 1 with --device cpu, where a thread team on a "
        "shared machine stalls whenever one of its threads is descheduled; torch's default with cuda)",
    )
    args = parser.parse_args(argv)
    try:
        get_config(args.model)
    except ValueError as exc:
        parser.error(str(exc))
    if args.device == "cuda" and not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        parser.error(f"--device cuda requested but CUDA is not available ({torch.__version__}, {built})")
    if args.warmup is None:
        args.warmup = DEFAULT_WARMUP[args.compile]
    if args.warmup < 1 or args.frames <= args.warmup:
        parser.error(f"need 1 <= --warmup < --frames (got --warmup {args.warmup}, --frames {args.frames})")
    if args.threads is None and args.device == "cpu":
        args.threads = 1
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; prints the table, writes ``--json``; returns the exit status."""
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # one setting for the process: both runners share it
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)  # main() may run inside another program (tests)


def _run(args: argparse.Namespace) -> int:
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    source = FrameSource(args)
    vos = args.compile and device.type == "cuda"
    # on CPU the reference cannot fill holes (its CUDA extension): ours does not either, for equal masks
    ref_fills = args.compare_reference and reference_fills_holes(device)
    fill = {"ours": 8 if ref_fills or not args.compare_reference else 0, "reference": 8 if ref_fills else 0}
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = args.checkpoint or random_checkpoint(args.model, args.seed, folder)
        predictor = None  # the reference first: a missing install fails before the slow parts
        if args.compare_reference:
            try:
                predictor = build_reference(
                    args.model,
                    checkpoint,
                    device=device,
                    image_size=args.image_size,
                    vos_optimized=vos,
                    fill_hole_area=fill["reference"],
                )
            except ReferenceUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        model = build_model(
            args.model,
            checkpoint=checkpoint,
            device=device,
            dtype=dtype,
            image_size=args.image_size,
        )
    info = run_info(args, device, source, fill, vos)
    rows = []
    for count in args.objects:
        gc.collect()  # the previous row's states go before this row's memory is measured
        tracker = Tracker(
            model,
            max_objects=max(16, count),
            fill_hole_area=fill["ours"],
            compile=args.compile,
        )
        contestants = [Contestant("ours", OursRunner(tracker), StepMeter(device, module_bytes(model)))]
        if predictor is not None:
            autocast = dtype if dtype != torch.float32 else None
            runner = ReferenceRunner(predictor, args.frames, autocast_dtype=autocast)
            contestants.append(Contestant("reference", runner, StepMeter(device, module_bytes(predictor))))
        rows.append({**run_row(args, source, contestants, count), **info})
        del tracker, contestants
        print(f"objects={count}: done", file=sys.stderr, flush=True)
        if args.json:  # after every row: a run stopped early (a time limit) keeps what it measured
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
    for key, value in info.items():
        print(f"- {key}: {value}")
    print()
    print(format_table(rows, device.type == "cuda"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
