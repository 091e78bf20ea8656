# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_core.train``: train or fine-tune a registered SAM 2 model on synthetic or DAVIS clips."""

from __future__ import annotations

import argparse

import torch

from .config import model_names
from .training.data import SCENARIO_WEIGHTS, scenario_mix
from .training.loop import TrainConfig, train


def _scenario_weights(text: str) -> dict[str, float]:
    """``"random=0.3,distractor=0.7"`` -> {"random": 0.3, "distractor": 0.7}; argparse shows the error."""
    weights: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep:
            raise argparse.ArgumentTypeError(f"{item.strip()!r} is not NAME=WEIGHT")
        try:
            weights[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item.strip()!r}: weight {value!r} is not a number") from None
    try:
        scenario_mix(weights)  # the generator's own checks: known names, weights >= 0, a positive sum
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return weights


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    p = argparse.ArgumentParser(
        prog="python -m sam2_core.train",
        description="Train or fine-tune a SAM 2 model with memory on multi-frame clips "
        "(prompt on the first frame, correction clicks, focal + dice + IoU + object-score losses).",
    )
    p.add_argument("--model", required=True, choices=model_names(), help="registered model name")
    p.add_argument("--checkpoint", default=None, help="initial weights (official format) to fine-tune")
    p.add_argument(
        "--data",
        default="synthetic",
        help="'synthetic' (seeded scenes generated on the fly) or a DAVIS-style folder "
        "(JPEGImages/<video>/*.jpg, Annotations/<video>/*.png)",
    )
    p.add_argument("--out", required=True, help="output folder (checkpoint.pt, train_state.pt, metrics.jsonl)")
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="model input size, a multiple of 32 (default: the model's)",
    )
    p.add_argument("--steps", type=int, default=1000, help="total optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="clips per step")
    p.add_argument("--clip-len", type=int, default=6, help="frames per clip (the first is prompted)")
    p.add_argument("--max-objects", type=int, default=3, help="objects per clip")
    p.add_argument(
        "--object-size",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=TrainConfig.object_size,
        help="synthetic data: object size range, bounding-circle diameter as a fraction of the shorter "
        "image side (default: %(default)s; a lower MIN trains on more small objects)",
    )
    p.add_argument(
        "--scenario-weights",
        type=_scenario_weights,
        default=None,
        metavar="NAME=W[,NAME=W...]",
        help="synthetic data: mix of scene scenarios, e.g. random=0.3,distractor=0.4,crossing=0.3 "
        f"(unnamed ones get 0; default: {','.join(f'{k}={v}' for k, v in SCENARIO_WEIGHTS.items())})",
    )
    p.add_argument(
        "--prompts-per-object",
        type=int,
        default=1,
        help="prompt each object this many times per clip with different clicks/boxes (cheap: the image "
        "is encoded once; useful for image-level training with --clip-len 1)",
    )
    p.add_argument(
        "--image-prob",
        type=float,
        default=0.0,
        help="share of steps that train at image level (one frame per clip, no memory), mixed into "
        "video training as SAM 2 mixes images into its video batches (0: none)",
    )
    p.add_argument(
        "--image-batch-size", type=int, default=None, help="clips per image-level step (default: --batch-size)"
    )
    p.add_argument(
        "--image-prompts-per-object",
        type=int,
        default=None,
        help="prompts per object in image-level steps (default: --prompts-per-object)",
    )
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (AdamW)")
    p.add_argument(
        "--encoder-lr-scale",
        type=float,
        default=0.1,
        help="image encoder learning rate as a fraction of --lr (a fast-moving encoder drowns the "
        "prompts' positional encoding and the heads stop using the clicks)",
    )
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument(
        "--curriculum-steps",
        type=int,
        default=0,
        help="steps over which clips grow from 2 frames and scripted events fade in (0: off)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the clip stream, prompts and dropout")
    p.add_argument("--save-every", type=int, default=100, help="checkpoint every N steps")
    p.add_argument("--log-every", type=int, default=10, help="log metrics every N steps")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: its default)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt if it exists")
    a = p.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.steps < 1 or a.batch_size < 1 or a.clip_len < 1 or a.prompts_per_object < 1:
        p.error("--steps, --batch-size, --clip-len and --prompts-per-object must be positive")
    if not 0.0 <= a.image_prob <= 1.0:
        p.error("--image-prob must be within [0, 1]")
    if (a.image_batch_size is not None and a.image_batch_size < 1) or (
        a.image_prompts_per_object is not None and a.image_prompts_per_object < 1
    ):
        p.error("--image-batch-size and --image-prompts-per-object must be positive")
    if not 0.0 < a.object_size[0] <= a.object_size[1] <= 1.0:
        p.error("--object-size must be 0 < MIN <= MAX <= 1")
    return TrainConfig(
        model=a.model,
        out=a.out,
        data=a.data,
        checkpoint=a.checkpoint,
        image_size=a.image_size,
        steps=a.steps,
        batch_size=a.batch_size,
        clip_len=a.clip_len,
        max_objects=a.max_objects,
        object_size=tuple(a.object_size),
        scenario_weights=a.scenario_weights,
        prompts_per_object=a.prompts_per_object,
        image_prob=a.image_prob,
        image_batch_size=a.image_batch_size,
        image_prompts_per_object=a.image_prompts_per_object,
        lr=a.lr,
        encoder_lr_scale=a.encoder_lr_scale,
        weight_decay=a.weight_decay,
        warmup_steps=a.warmup_steps,
        seed=a.seed,
        curriculum_steps=a.curriculum_steps,
        save_every=a.save_every,
        log_every=a.log_every,
        device=a.device,
        resume=a.resume,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    path = train(cfg)
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
