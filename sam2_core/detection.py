# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Open-vocabulary object detection (boxes from words) through Hugging Face transformers' zero-shot detectors.

``OpenVocabularyDetector`` wraps any model that ``transformers.AutoModelForZeroShotObjectDetection``
loads: Grounding DINO, MM Grounding DINO and LLMDet (token-level, "grounded" scores), OWLv2 and
OWL-ViT (one score per text query), OmDet-Turbo. ``transformers`` is imported only when a detector is
built, and nothing is downloaded unless ``model`` is a Hugging Face hub id (a local directory is read
with ``local_files_only``). Boxes come back in pixels of the image given to ``detect``.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

INSTALL_HINT = "pip install transformers pillow (OWLv2 without torchvision also needs scipy)"


class DetectorError(RuntimeError):
    """A detector that cannot be loaded or run; the message says why and what to do."""


@dataclass(frozen=True)
class Detection:
    """One detected box.

    box: (x_min, y_min, x_max, y_max) in pixels of the image passed to ``detect`` (x right, y down);
    score: the detector's confidence in 0..1; phrase: which of the requested phrases it answers.
    """

    box: tuple[float, float, float, float]
    score: float
    phrase: str


_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def match_phrase(label: Any, phrases: Sequence[str], special_tokens: Sequence[str] = ()) -> str | None:
    """The requested phrase a detector's label stands for, or None when it names none of them.

    ``label`` is what post-processing returned: an index into ``phrases`` (OWL, OmDet), a phrase
    itself, or, for Grounding DINO-like models, the decoded text of the tokens above the text
    threshold (e.g. "red mug" or "mug"; special tokens such as "[SEP]" are ignored). The phrase
    sharing the most words with it wins (then the larger share of its own words, then the earlier).
    """
    if isinstance(label, bool):
        return None
    if isinstance(label, int | np.integer) or (isinstance(label, torch.Tensor) and label.numel() == 1):
        index = int(label)
        return phrases[index] if 0 <= index < len(phrases) else None
    text = str(label)
    if text in phrases:
        return text
    for token in special_tokens:
        if token:
            text = text.replace(token, " ")
    found = set(_words(text))
    best, best_key = None, (0, 0.0)
    for phrase in phrases:
        words = _words(phrase)
        if not words:
            continue
        overlap = sum(1 for w in words if w in found)
        key = (overlap, overlap / len(words))
        if overlap > 0 and key > best_key:
            best, best_key = phrase, key
    return best


def _is_local_path(model: str) -> bool:
    return os.path.isabs(model) or model.startswith((".", "~")) or os.path.exists(model)


class OpenVocabularyDetector:
    """Boxes for phrases ("red mug", "bottle") from a transformers zero-shot object detector.

    ``model``: a local directory (``save_pretrained`` output: config.json, weights, processor and
    tokenizer files) or a Hugging Face hub id such as ``IDEA-Research/grounding-dino-tiny`` or
    ``google/owlv2-base-patch16-ensemble`` (downloaded by transformers when the machine can reach
    the hub). Raises DetectorError when transformers is missing or the model cannot be loaded or
    is not a zero-shot object detector.
    """

    def __init__(self, model: str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        if not isinstance(model, str) or not model.strip():
            raise DetectorError("detector model is empty: give a local model directory or a Hugging Face model id")
        self.name = model
        self.device = torch.device(device)
        self.dtype = dtype
        try:
            import transformers
            from transformers.models.auto.modeling_auto import MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES
        except ImportError as error:
            raise DetectorError(f"text prompts need the Hugging Face transformers package: {INSTALL_HINT}") from error
        source = os.path.expanduser(model)
        local = os.path.isdir(source)
        if not local and _is_local_path(source):
            raise DetectorError(
                f"detector model '{model}' is not a directory; give a folder written by save_pretrained"
                " (config.json, weights, processor files) or a Hugging Face model id"
            )
        options: dict[str, Any] = {"local_files_only": True} if local else {}
        supported = ", ".join(MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES)
        try:
            config = transformers.AutoConfig.from_pretrained(source, **options)
        except Exception as error:
            raise DetectorError(f"cannot load detector '{model}': {_first_line(error)}") from error
        model_type = getattr(config, "model_type", "")
        if model_type not in MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES:
            raise DetectorError(
                f"'{model}' is not a zero-shot object detector (its model type is '{model_type}'); transformers"
                f" {transformers.__version__} detects with: {supported}"
            )
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(source, **options)
            network = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(source, **options)
        except Exception as error:
            raise DetectorError(f"cannot load detector '{model}': {_first_line(error)}") from error
        self.model_type = model_type
        self.model = network.to(device=self.device, dtype=dtype).eval()
        post = getattr(self.processor, "post_process_grounded_object_detection", None)
        if post is None:  # transformers releases before the grounded API (OWL: the image processor's)
            post = self.processor.image_processor.post_process_object_detection
        self._post_process = post
        self._post_parameters = set(inspect.signature(post).parameters)
        # Grounding DINO-like models score tokens of one caption ("red mug. bottle."); the others
        # score each phrase as its own query.
        self.grounded = "input_ids" in self._post_parameters
        tokenizer = getattr(self.processor, "tokenizer", None)
        self._special_tokens = tuple(getattr(tokenizer, "all_special_tokens", ()) or ())
        self._max_text_tokens = _max_text_tokens(config)

    def __repr__(self) -> str:
        return f"OpenVocabularyDetector({self.name!r}, model_type={self.model_type!r}, device={str(self.device)!r})"

    def _inputs(self, image: np.ndarray, phrases: list[str]) -> dict[str, Any]:
        if self.grounded:
            # the caption format these models were trained on: lower case, each phrase ended by a dot
            text: Any = " ".join(f"{p.strip().lower()}." for p in phrases)
        else:
            text = [list(phrases)]
        # a caption or phrase longer than the text encoder takes (256 tokens for Grounding DINO, 16 for
        # OWL) is cut rather than failing inside the network
        limit = {"truncation": True, "max_length": self._max_text_tokens} if self._max_text_tokens else {}
        encoded = self.processor(images=image, text=text, return_tensors="pt", **limit)
        inputs = {}
        for key, value in dict(encoded).items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(self.dtype)
            inputs[key] = value
        return inputs

    @torch.inference_mode()
    def detect(
        self,
        image: Any,
        phrases: Sequence[str],
        box_threshold: float = 0.3,
        text_threshold: float = 0.25,
    ) -> list[Detection]:
        """Detections of ``phrases`` in ``image``, best first.

        image: H x W x 3 uint8 RGB (numpy array or PIL image). box_threshold: the least box score
        kept; text_threshold: for Grounding DINO-like models, the least token score for a phrase to
        name a box (unused by OWL and OmDet). Boxes are clipped to the image.
        """
        phrases = [str(p).strip() for p in phrases if str(p).strip()]
        if not phrases:
            raise ValueError("detect needs at least one non-empty phrase")
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ValueError(f"image must be H x W x 3 uint8 RGB, got {array.dtype} {array.shape}")
        height, width = array.shape[:2]
        inputs = self._inputs(np.ascontiguousarray(array), phrases)
        outputs = self.model(**inputs)
        options = {
            "threshold": float(box_threshold),
            "box_threshold": float(box_threshold),  # the name before transformers 4.51
            "text_threshold": float(text_threshold),
            "target_sizes": [(height, width)],
            "text_labels": [list(phrases)],
            "input_ids": inputs.get("input_ids"),
        }
        result = self._post_process(outputs, **{k: v for k, v in options.items() if k in self._post_parameters})[0]
        labels = result.get("text_labels")
        if labels is None:
            labels = result["labels"]
        boxes = result["boxes"].detach().float().cpu().numpy().reshape(-1, 4)
        scores = result["scores"].detach().float().cpu().numpy().reshape(-1)
        found = []
        for box, score, label in zip(boxes, scores, labels):
            phrase = match_phrase(label, phrases, self._special_tokens)
            if phrase is None or not (np.isfinite(box).all() and math.isfinite(float(score))):
                continue
            x0, y0 = max(float(box[0]), 0.0), max(float(box[1]), 0.0)
            x1, y1 = min(float(box[2]), float(width)), min(float(box[3]), float(height))
            if x1 <= x0 or y1 <= y0:
                continue
            found.append(Detection((x0, y0, x1, y1), float(score), phrase))
        return sorted(found, key=lambda d: -d.score)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _max_text_tokens(config: Any) -> int | None:
    """How many text tokens the detector's text side takes: Grounding DINO's ``max_text_len``, else
    the text encoder's position embeddings (OWL: 16); None when the config says neither."""
    limit = getattr(config, "max_text_len", None)
    if not limit:
        limit = getattr(getattr(config, "text_config", None), "max_position_embeddings", None)
    return int(limit) if limit else None
