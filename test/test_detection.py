# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""sam2_core.detection with tiny random-weight Grounding DINO and OWLv2 models saved to a temporary folder.

The real processors, models and post-processing run end to end; crafted model outputs pin down
what each family's boxes and phrases must be (Grounding DINO: token scores of one caption and
text_threshold; OWLv2: one score per phrase, boxes relative to the image padded to a square).
No network: HF_HUB_OFFLINE=1 (set by tiny_detectors).
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_detectors import save_tiny_grounding_dino, save_tiny_owlv2

from sam2_core.detection import INSTALL_HINT, Detection, DetectorError, OpenVocabularyDetector

HEIGHT, WIDTH = 48, 64
PHRASES = ["red mug", "bottle"]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("detectors")
    return {"grounding-dino": save_tiny_grounding_dino(root / "gd"), "owlv2": save_tiny_owlv2(root / "owl")}


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def corners(cxcywh, width, height):
    cx, cy, w, h = cxcywh
    return np.array([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])


@pytest.mark.parametrize("family", ["grounding-dino", "owlv2"])
def test_real_tiny_models_detect_end_to_end(model_dirs, family):
    detector = OpenVocabularyDetector(str(model_dirs[family]))
    assert detector.model_type == family and detector.grounded == (family == "grounding-dino")
    captured = []
    detector.model.register_forward_hook(lambda module, args, output: captured.append(output))
    found = detector.detect(image(), PHRASES, box_threshold=0.0, text_threshold=0.0)
    assert found and all(isinstance(d, Detection) and d.phrase in PHRASES for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT
    # each detection is one query of the model's own output: score and (clipped) box
    outputs = captured[-1]
    scale = (WIDTH, HEIGHT) if family == "grounding-dino" else (max(WIDTH, HEIGHT),) * 2  # OWLv2 pads to a square
    scores = torch.sigmoid(outputs.logits[0].float()).max(-1).values.numpy()
    boxes = [np.clip(corners(b, *scale), 0, [WIDTH, HEIGHT, WIDTH, HEIGHT]) for b in outputs.pred_boxes[0].numpy()]
    for d in found:
        assert any(abs(s - d.score) < 1e-5 and np.allclose(b, d.box, atol=1e-3) for s, b in zip(scores, boxes))
    strict = detector.detect(image(), PHRASES, box_threshold=0.9999)
    assert all(d.score > 0.9999 for d in strict) and len(strict) <= len(found)
    assert detector.detect(image(), PHRASES, box_threshold=1.0) == []


@pytest.mark.parametrize("family", ["grounding-dino", "owlv2"])
def test_text_longer_than_the_text_encoder_takes_is_cut_not_an_error(model_dirs, family):
    detector = OpenVocabularyDetector(str(model_dirs[family]))
    assert detector._max_text_tokens == {"grounding-dino": 32, "owlv2": 16}[family]  # the tiny configs'
    captured = []
    detector.model.register_forward_hook(lambda module, args, output: captured.append(args))
    long_phrases = ["a red mug beside the bottle on the shelf"] * 6  # 200+ characters: more tokens than either takes
    found = detector.detect(image(), long_phrases, box_threshold=0.0, text_threshold=0.0)
    assert all(d.phrase in long_phrases for d in found)
    assert captured  # the network ran on the cut text


class Crafted(torch.nn.Module):
    """Stands in for the network: returns fixed outputs, after checking what the processor made."""

    def __init__(self, logits, boxes, check):
        super().__init__()
        self.logits, self.boxes, self.check = logits, boxes, check

    def forward(self, **inputs):
        self.check(inputs)
        return SimpleNamespace(logits=self.logits[None], pred_boxes=self.boxes[None])


def test_grounding_dino_phrases_come_from_token_scores_of_one_caption(model_dirs):
    detector = OpenVocabularyDetector(str(model_dirs["grounding-dino"]))
    tokens = ["[CLS]", "red", "mug", ".", "bottle", ".", "[SEP]"]

    def check(inputs):
        assert detector.processor.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]) == tokens

    logits = torch.full((6, 32), -20.0)  # 6 queries x 32 text positions (max_text_len)
    logits[0, 4] = 5.0  # "bottle", p 0.993
    logits[1, 1], logits[1, 2] = 2.0, 3.0  # "red" 0.88, "mug" 0.95
    logits[2, :] = -20.0  # nothing: under box_threshold
    logits[3, 3] = 4.0  # only the ".": names no phrase
    logits[4, 1] = 0.0  # "red" at 0.5: a box, but under text_threshold 0.6
    logits[5, 4] = 1.0  # "bottle" 0.73, box reaching past the right edge
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.25, 0.25, 0.2, 0.2], [0.5] * 4, [0.5] * 4, [0.5] * 4,
                          [1.0, 0.5, 0.4, 0.2]])  # fmt: skip
    detector.model = Crafted(logits, boxes, check)
    found = detector.detect(image(), ["Red mug", "bottle"], box_threshold=0.3, text_threshold=0.6)
    assert [(d.phrase, round(d.score, 3)) for d in found] == [("bottle", 0.993), ("Red mug", 0.953), ("bottle", 0.731)]
    np.testing.assert_allclose(found[0].box, [16, 12, 48, 36], atol=1e-4)
    np.testing.assert_allclose(found[1].box, [9.6, 7.2, 22.4, 16.8], atol=1e-4)
    np.testing.assert_allclose(found[2].box, [51.2, 19.2, 64, 28.8], atol=1e-4)  # clipped to the image
    looser = detector.detect(image(), ["Red mug", "bottle"], box_threshold=0.3, text_threshold=0.4)
    assert [d.phrase for d in looser] == ["bottle", "Red mug", "bottle", "Red mug"]  # query 4 now names "red"


def test_owlv2_scores_each_phrase_and_scales_boxes_by_the_padded_square(model_dirs):
    detector = OpenVocabularyDetector(str(model_dirs["owlv2"]))

    def check(inputs):
        assert tuple(inputs["input_ids"].shape)[0] == 2 and tuple(inputs["pixel_values"].shape) == (1, 3, 32, 32)

    logits = torch.tensor([[-9.0, 3.0], [0.0, -9.0], [-9.0, -9.0]])  # queries x phrases
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.1, 0.1]])
    detector.model = Crafted(logits, boxes, check)
    found = detector.detect(image(), PHRASES, box_threshold=0.3)
    assert [(d.phrase, round(d.score, 3)) for d in found] == [("bottle", 0.953), ("red mug", 0.5)]
    # 48 x 64 is padded to 64 x 64 below: normalised coordinates are of the 64-pixel square
    np.testing.assert_allclose(found[0].box, [16, 16, 48, 48], atol=1e-4)
    np.testing.assert_allclose(found[1].box, [8, 8, 24, 24], atol=1e-4)


def test_loading_failures_say_what_is_wrong(tmp_path, monkeypatch):
    with pytest.raises(DetectorError, match="is not a directory"):
        OpenVocabularyDetector(str(tmp_path / "missing"))
    with pytest.raises(DetectorError, match="detector model is empty"):
        OpenVocabularyDetector("  ")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DetectorError, match="cannot load detector .*empty"):
        OpenVocabularyDetector(str(tmp_path / "empty"))
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(
        tmp_path / "bert"
    )
    with pytest.raises(DetectorError, match=r"not a zero-shot object detector \(its model type is 'bert'\).*owlv2"):
        OpenVocabularyDetector(str(tmp_path / "bert"))
    with pytest.raises(DetectorError, match="cannot load detector 'nobody/no-such-detector'"):
        OpenVocabularyDetector("nobody/no-such-detector")  # a hub id, offline here
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(DetectorError, match="need the Hugging Face transformers package") as error:
        OpenVocabularyDetector(str(tmp_path / "bert"))
    assert INSTALL_HINT in str(error.value)


def test_detect_rejects_bad_images_and_empty_phrases(model_dirs):
    detector = OpenVocabularyDetector(str(model_dirs["owlv2"]))
    with pytest.raises(ValueError, match="at least one non-empty phrase"):
        detector.detect(image(), ["", "  "])
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        detector.detect(np.zeros((8, 8), np.uint8), ["cup"])
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        detector.detect(np.zeros((8, 8, 3), np.float32), ["cup"])
