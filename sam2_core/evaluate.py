# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_core.evaluate``: J&F per video and mean, prompting frame 0 and tracking with the Tracker.

Held-out synthetic clips use scene seeds ``seed_start, seed_start + 1, ...`` (default from 0), all
below ``sam2_core.training.data.TRAIN_SEED_MIN``, so they never appear in training.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .build import build_model, bundled_checkpoint
from .config import model_names
from .metrics import evaluate_sequence, summarize
from .modeling.sam2 import SAM2Model
from .synthetic import SCENARIOS, SceneConfig, generate_clip
from .tracker import Tracker
from .training.data import EVAL_SEED_START, TRAIN_SEED_MIN, DavisFolder
from .training.prompting import center_click, mask_box

PROMPTS = ("click", "box", "mask")


@dataclass
class VideoResult:
    """One video's scores (``num_frames`` includes the prompted frame, which is not scored)."""

    name: str
    num_objects: int
    num_frames: int
    J: float
    F: float
    JF: float
    baseline_JF: float  # repeating the first-frame mask on every frame
    per_object_JF: list[float]


def track_video(
    tracker: Tracker, frames: np.ndarray, first_masks: np.ndarray, prompt: str = "click"
) -> tuple[np.ndarray, np.ndarray]:
    """Prompt every object on frame 0 from its mask, then track all frames.

    frames: T x H x W x 3 uint8; first_masks: K x H x W bool (object k gets id k + 1). ``prompt``:
    one click at the point farthest inside the object, its tight box, or the mask itself.
    Returns (T x K x H x W bool masks, T x K float object-score logits).
    """
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {PROMPTS}, got {prompt!r}")
    tracker.reset()
    t_n, k = len(frames), len(first_masks)
    masks = np.zeros((t_n, k, *frames.shape[1:3]), bool)
    scores = np.zeros((t_n, k), np.float32)
    for t, frame in enumerate(frames):
        res = tracker.track(frame)
        if t == 0:
            for i, m in enumerate(first_masks):
                if prompt == "click":
                    res = tracker.add_prompt(i + 1, points=[center_click(m)], labels=[1])
                elif prompt == "box":
                    res = tracker.add_prompt(i + 1, box=mask_box(m))
                else:
                    res = tracker.add_prompt(i + 1, mask=m)
        masks[t] = res.masks.cpu().numpy()
        scores[t] = res.object_scores.float().cpu().numpy()
    return masks, scores


def evaluate_video(
    tracker: Tracker, name: str, frames: np.ndarray, gt: np.ndarray, prompt: str = "click"
) -> tuple[VideoResult, np.ndarray, np.ndarray]:
    """Track one video (gt: T x K x H x W bool) and score it; returns (result, masks, object scores)."""
    pred, scores = track_video(tracker, frames, gt[0], prompt)
    res = evaluate_sequence(pred, gt)
    base = evaluate_sequence(np.broadcast_to(gt[:1], gt.shape), gt)
    result = VideoResult(
        name=name,
        num_objects=gt.shape[1],
        num_frames=gt.shape[0],
        J=float(res["J"]),
        F=float(res["F"]),
        JF=float(res["J&F"]),
        baseline_JF=float(base["J&F"]),
        per_object_JF=[float(v) for v in res["J&F_mean"]],
    )
    return result, pred, scores


def synthetic_videos(
    num_clips: int,
    seed_start: int = EVAL_SEED_START,
    scenario: str = "all",
    height: int = 240,
    width: int = 320,
    num_frames: int = 24,
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Held-out synthetic clips: (name, T x H x W x 3 frames, T x K x H x W masks); ``scenario="all"``
    cycles through every scenario."""
    if seed_start + num_clips > TRAIN_SEED_MIN:
        raise ValueError(f"evaluation seeds must stay below {TRAIN_SEED_MIN} (the training seeds)")
    for i in range(num_clips):
        sc = SCENARIOS[i % len(SCENARIOS)] if scenario == "all" else scenario
        if num_frames < 13:  # too short for a scripted event (hidden interval + 12 frames)
            sc = "random"
        seed = seed_start + i
        hidden = max(1, min(12, num_frames - 12))
        config = SceneConfig(height=height, width=width, num_frames=num_frames, scenario=sc, hidden_frames=hidden)
        clip = generate_clip(seed, config)
        yield f"{sc}-{seed}", clip.frames, clip.masks


def davis_videos(root: str, max_frames: int = 0) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Videos of a DAVIS-style folder, objects of the first annotated frame (``max_frames`` > 0 truncates)."""
    folder = DavisFolder(root)
    for video in folder.videos:
        frames, masks, _ = folder.load_video(video)
        if max_frames > 0:
            frames, masks = frames[:max_frames], masks[:max_frames]
        if masks.shape[1] == 0 or len(frames) < 2:
            continue
        yield video, frames, masks


def evaluate(model: SAM2Model, videos, prompt: str = "click", verbose: bool = True) -> tuple[list[VideoResult], dict]:
    """Score ``model`` on (name, frames, masks) videos; returns per-video results and the summary."""
    tracker = Tracker(model)
    results, raw = [], []
    for name, frames, gt in videos:
        r, pred, _ = evaluate_video(tracker, name, frames, gt, prompt)
        results.append(r)
        raw.append(evaluate_sequence(pred, gt))
        if verbose:
            print(_row(r), flush=True)
    if not results:
        raise ValueError("no video to evaluate")
    summary = summarize(raw)
    summary["baseline_J&F"] = float(np.mean([r.baseline_JF for r in results]))
    return results, summary


_HEADER = f"{'video':<24} {'objs':>4} {'frames':>6} {'J':>6} {'F':>6} {'J&F':>6} {'repeat-first J&F':>17}"


def _row(r: VideoResult) -> str:
    return (
        f"{r.name:<24} {r.num_objects:>4} {r.num_frames:>6} {r.J:>6.3f} {r.F:>6.3f} {r.JF:>6.3f} {r.baseline_JF:>17.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sam2_core.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=model_names())
    p.add_argument(
        "--checkpoint",
        default=None,
        help="official-format checkpoint (default: the weights bundled with sam2_core for --model, as for "
        "sam2.1_hiera_nano; a model without bundled weights needs --checkpoint or --random-weights)",
    )
    p.add_argument("--random-weights", action="store_true", help="evaluate untrained, randomly initialized weights")
    p.add_argument("--data", default="synthetic", help="'synthetic' (held-out seeds) or a DAVIS-style folder")
    p.add_argument("--num-clips", type=int, default=10, help="synthetic clips to evaluate")
    p.add_argument("--seed-start", type=int, default=EVAL_SEED_START, help="first synthetic scene seed")
    p.add_argument("--scenario", default="all", choices=("all", *SCENARIOS))
    p.add_argument("--frames", type=int, default=24, help="frames per synthetic clip")
    p.add_argument("--max-frames", type=int, default=0, help="truncate DAVIS videos to this many frames (0: all)")
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--prompt", default="click", choices=PROMPTS, help="first-frame prompt per object")
    p.add_argument("--image-size", type=int, default=None, help="model input size (default: the model's)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: its default)")
    p.add_argument("--json", default=None, help="write per-video results and the summary here")
    a = p.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)

    checkpoint = a.checkpoint
    if a.random_weights:
        if checkpoint:
            p.error("--checkpoint and --random-weights exclude each other")
        print("weights: random (untrained)", file=sys.stderr)
    else:
        checkpoint = checkpoint or bundled_checkpoint(a.model)
        if checkpoint is None:
            p.error(f"no weights are bundled for {a.model}: give --checkpoint FILE (or --random-weights)")
        print(f"weights: {checkpoint}", file=sys.stderr)
    model = build_model(a.model, checkpoint=checkpoint, device=a.device, image_size=a.image_size)
    if a.data == "synthetic":
        videos = synthetic_videos(a.num_clips, a.seed_start, a.scenario, a.height, a.width, a.frames)
    else:
        videos = davis_videos(a.data, a.max_frames)
    print(_HEADER)
    try:
        results, summary = evaluate(model, videos, a.prompt)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("-" * len(_HEADER))
    print(
        f"{'mean':<24} {summary['num_objects']:>4} {'':>6} {summary['J']:>6.3f} {summary['F']:>6.3f} "
        f"{summary['J&F']:>6.3f} {summary['baseline_J&F']:>17.3f}"
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"videos": [vars(r) for r in results], "summary": summary}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
