# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 / SAM 2.1 in plain PyTorch: the network, an image predictor, a mask generator and a streaming tracker."""

from .automatic_masks import AutomaticMaskGenerator
from .build import CheckpointError, build_model, bundled_checkpoint, load_checkpoint, read_checkpoint
from .config import MODEL_CONFIGS, OFFICIAL_MODEL_NAMES, ModelConfig, get_config, model_names, register_model
from .modeling.sam2 import SAM2Model
from .predictor import ImagePredictor
from .tracker import Tracker, TrackResult

MODEL_NAMES = OFFICIAL_MODEL_NAMES

__all__ = [
    "AutomaticMaskGenerator",
    "MODEL_CONFIGS",
    "MODEL_NAMES",
    "OFFICIAL_MODEL_NAMES",
    "CheckpointError",
    "ImagePredictor",
    "ModelConfig",
    "SAM2Model",
    "TrackResult",
    "Tracker",
    "build_model",
    "bundled_checkpoint",
    "get_config",
    "load_checkpoint",
    "model_names",
    "read_checkpoint",
    "register_model",
]
