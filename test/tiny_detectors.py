# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tiny random-weight zero-shot detectors (Grounding DINO, OWLv2) saved with small tokenizers, for tests.

Built from small configs in a few seconds, written with ``save_pretrained`` to a folder that
``OpenVocabularyDetector`` loads like any downloaded model. Nothing touches the network.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download

import torch

WORDS = ["red", "mug", "bottle", "ellipse", "star", "cup", "object"]


def save_tiny_grounding_dino(folder: Path) -> Path:
    """A Grounding DINO (Swin backbone, BERT text encoder) of about 160 k parameters, 64-96 px input."""
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
        GroundingDinoProcessor,
        SwinConfig,
    )

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"))
    image_processor = GroundingDinoImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 96})
    torch.manual_seed(0)
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(
            embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4, image_size=64,
            out_features=["stage2", "stage3", "stage4"],
        ),
        text_config=BertConfig(
            vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=64,
        ),
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10, max_text_len=32,
        encoder_n_points=1, decoder_n_points=1,
    )  # fmt: skip
    GroundingDinoForObjectDetection(config).eval().save_pretrained(folder)
    GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_owlv2(folder: Path) -> Path:
    """An OWLv2 (ViT, 32 px input, 8 px patches) of about 11 k parameters with a character-level CLIP tokenizer."""
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil, Owlv2Processor

    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(string.ascii_lowercase) + list(".,!")
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols])}
    # start and end tokens last: OWL treats a query starting with token id 0 as padding
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    # model_max_length as OWL checkpoints save it: the processor pads every query to it
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=16)
    torch.manual_seed(0)
    config = Owlv2Config(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            max_position_embeddings=16, bos_token_id=len(vocab) - 2, eos_token_id=len(vocab) - 1,
            pad_token_id=len(vocab) - 1,
        ),
        vision_config=dict(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )  # fmt: skip
    Owlv2ForObjectDetection(config).eval().save_pretrained(folder)
    image_processor = Owlv2ImageProcessorPil(size={"height": 32, "width": 32})
    Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
