# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The training loop: seeded batches, AdamW with warm-up and cosine decay, resumable checkpoints, logs."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..build import build_model, read_checkpoint
from ..synthetic import SceneConfig
from .clip_forward import PromptMix, clip_loss, make_batch
from .data import DavisFolder, SyntheticClips, draw_offsets

MODEL_FILE = "checkpoint.pt"  # official format {"model": state_dict}: build_model(name, checkpoint=...)
STATE_FILE = "train_state.pt"  # optimizer state and step, for --resume
LOG_FILE = "metrics.jsonl"  # one JSON object per logged step
IMAGE_SAMPLE_BASE = 1 << 40  # image-level steps of a mixed run draw clip indices from their own range


@dataclass
class TrainConfig:
    """Everything one training run depends on (saved next to its checkpoints)."""

    model: str
    out: str
    data: str = "synthetic"  # "synthetic" or a DAVIS-style folder
    checkpoint: str | None = None  # initial weights (official format), e.g. to fine-tune
    image_size: int | None = None  # train at another input size (weights are size-independent)
    steps: int = 1000
    batch_size: int = 4  # clips per step (each with up to max_objects objects)
    clip_len: int = 6  # frames per clip, the first prompted
    max_objects: int = 3
    # synthetic data only: range of object sizes (bounding-circle diameter / min(height, width)), by
    # default the generator's; a lower minimum gives more small targets
    object_size: tuple[float, float] = SceneConfig.object_size
    # synthetic data only: mix of scene scenarios (name -> weight; None: data.SCENARIO_WEIGHTS)
    scenario_weights: dict[str, float] | None = None
    prompts_per_object: int = 1  # each object prompted this many times per clip (different clicks/boxes)
    # joint image + video training (SAM 2 mixes SA-1B images into its video batches): this share of
    # the steps is image-level, one frame per clip, with its own batch size and prompts per object
    image_prob: float = 0.0
    image_batch_size: int | None = None  # default: batch_size
    image_prompts_per_object: int | None = None  # default: prompts_per_object
    lr: float = 5e-4
    encoder_lr_scale: float = 0.1  # image encoder learning rate / lr
    weight_decay: float = 0.05
    warmup_steps: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    curriculum_steps: int = 0  # clips grow from 2 frames and scripted events fade in over these steps
    p_long_gap: float = 0.3  # share of clips whose later frames are far from the prompt (at full difficulty)
    save_every: int = 100
    log_every: int = 10
    device: str = "cpu"
    resume: bool = False


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: no weight decay on norms, biases and position embeddings; the image encoder at
    ``encoder_lr_scale`` x the learning rate (as SAM 2 trains its backbone slower than its heads)."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        decay = p.ndim > 1 and "pos_embed" not in name
        groups.setdefault((name.startswith("image_encoder."), decay), []).append(p)
    return [
        {
            "params": params,
            "weight_decay": cfg.weight_decay if decay else 0.0,
            "lr_scale": cfg.encoder_lr_scale if encoder else 1.0,
        }
        for (encoder, decay), params in sorted(groups.items())
    ]


def _atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_model(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write ``model``'s weights as an official-format checkpoint ``{"model": state_dict}`` (fp32, CPU)."""
    sd = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
    _atomic_save({"model": sd}, Path(path))


class _Progress:
    """tqdm when installed, else a plain line every ``log_every`` steps (tqdm is not a runtime dependency)."""

    def __init__(self, start: int, total: int, log_every: int) -> None:
        self.log_every = log_every
        try:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
        except ImportError:
            self.bar = None
        self.total = total

    def update(self, step: int, text: str) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(text, refresh=False)
        elif step % self.log_every == 0 or step == self.total:
            print(f"step {step}/{self.total} {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clip_source(cfg: TrainConfig, image_size: int):
    if cfg.data == "synthetic":
        return SyntheticClips(
            image_size,
            cfg.clip_len,
            seed=cfg.seed,
            max_objects=cfg.max_objects,
            object_size=cfg.object_size,
            scenario_weights=cfg.scenario_weights,
        )
    return DavisFolder(cfg.data).sample_clips(image_size, cfg.clip_len, seed=cfg.seed, max_objects=cfg.max_objects)


def train(cfg: TrainConfig) -> Path:
    """Train ``cfg.model`` for ``cfg.steps`` steps; returns the path of the final official-format checkpoint.

    Checkpoints go to ``cfg.out`` every ``save_every`` steps and at the end: ``checkpoint.pt`` (weights),
    ``train_state.pt`` (optimizer + step), ``train_config.json``; metrics to ``metrics.jsonl``. With
    ``resume`` the run continues from ``train_state.pt`` and gives the same batches it would have
    given without the interruption (every batch is a function of the seed and the step).
    """
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)  # the random initialization of what the checkpoint does not set
    model = build_model(cfg.model, checkpoint=cfg.checkpoint, device=device, image_size=cfg.image_size)
    model.train()
    optimizer = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr)
    start = 0
    if cfg.resume and (out / STATE_FILE).exists():
        model.load_state_dict(read_checkpoint(out / MODEL_FILE), strict=True)
        # on the CPU: load_state_dict moves the moments to each parameter's device and keeps AdamW's
        # step counters on the CPU, as a fresh run has them (on CUDA they would cost a sync per parameter)
        state = torch.load(out / STATE_FILE, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["step"])
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    source = _clip_source(cfg, model.image_size)
    prompts = PromptMix()
    progress = _Progress(start, cfg.steps, cfg.log_every)
    t_start = time.time()
    step = start
    with open(out / LOG_FILE, "a") as log:
        while step < cfg.steps:
            ramp = min(1.0, step / cfg.curriculum_steps) if cfg.curriculum_steps > 0 else 1.0
            rng = np.random.default_rng([cfg.seed, step, 7])
            torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout: reproducible after a resume
            clip_len = 2 + round((cfg.clip_len - 2) * ramp) if cfg.clip_len > 2 else cfg.clip_len
            jump = rng.random() < cfg.p_long_gap * ramp
            offsets = draw_offsets(rng, clip_len, 36, jump)
            # its own generator, so runs without image steps draw exactly what they drew before
            if cfg.image_prob > 0 and np.random.default_rng([cfg.seed, step, 11]).random() < cfg.image_prob:
                clip_len, offsets = 1, np.zeros(1, np.int64)
                size = cfg.image_batch_size or cfg.batch_size
                first = IMAGE_SAMPLE_BASE + step * size
                repeats = cfg.image_prompts_per_object or cfg.prompts_per_object
            else:
                size, first, repeats = cfg.batch_size, step * cfg.batch_size, cfg.prompts_per_object
            samples = [source.sample(first + j, offsets, ramp) for j in range(size)]
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * group["lr_scale"] * _lr_factor(step, cfg)
            batch = make_batch(samples, device).repeat_objects(repeats)
            loss, stats = clip_loss(model, batch, rng, prompts)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            stats.update(
                step=step,
                loss=float(loss.detach()),
                grad_norm=float(grad_norm),
                lr=optimizer.param_groups[0]["lr"],
                clip_len=clip_len,
                elapsed_s=round(time.time() - t_start, 1),
            )
            if step % cfg.log_every == 0 or step == cfg.steps:
                log.write(json.dumps(stats) + "\n")
                log.flush()
            progress.update(
                step,
                f"loss={stats['loss']:.3f} iou0={stats['prompt_iou0']:.2f} track={stats['track_iou']:.2f}",
            )
            if step % cfg.save_every == 0 or step == cfg.steps:
                save_model(model, out / MODEL_FILE)
                _atomic_save({"optimizer": optimizer.state_dict(), "step": step}, out / STATE_FILE)
    progress.close()
    return out / MODEL_FILE
