# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training and fine-tuning of SAM 2 models on synthetic clips or DAVIS-style folders."""

from .data import EVAL_SEED_START, TRAIN_SEED_MIN, ClipSample, DavisFolder, SyntheticClips, read_index_png
from .loop import TrainConfig, save_model, train

__all__ = [
    "EVAL_SEED_START",
    "TRAIN_SEED_MIN",
    "ClipSample",
    "DavisFolder",
    "SyntheticClips",
    "TrainConfig",
    "read_index_png",
    "save_model",
    "train",
]
