# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""build_model: state dicts identical to the reference for all eight models, strict loading, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from reference import official_checkpoint, reference_video_model

import sam2_core
from sam2_core import CheckpointError, build_model

NAMES = list(sam2_core.OFFICIAL_MODEL_NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_keys_and_shapes_equal_reference(name):
    ref = reference_video_model(name, seed=0)
    ours = build_model(name)
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert got == want
    assert not ours.training


def test_loads_official_and_bare_checkpoints(checkpoint_dir, tmp_path):
    name = "sam2.1_hiera_tiny"
    path = official_checkpoint(name, 1, checkpoint_dir)
    state = torch.load(path, weights_only=True)["model"]
    model = build_model(name, checkpoint=path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    bare = tmp_path / "bare.pt"
    torch.save(state, bare)
    model2 = build_model(name, checkpoint=bare, dtype=torch.bfloat16)
    assert model2.no_mem_embed.dtype == torch.bfloat16
    assert torch.equal(model2.no_mem_embed.float(), state["no_mem_embed"].bfloat16().float())


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        build_model("sam3_hiera_huge")
    msg = str(err.value)
    assert "sam3_hiera_huge" in msg
    for name in NAMES:
        assert name in msg


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        build_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "nope.pt")


@pytest.mark.parametrize("content", [b"", b"definitely not a checkpoint", b"PK\x03\x04broken zip"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        build_model("sam2.1_hiera_tiny", checkpoint=path)


def test_file_without_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="no state dict"):
        build_model("sam2.1_hiera_tiny", checkpoint=path)


def test_directory_is_rejected(tmp_path):
    with pytest.raises(CheckpointError, match="directory"):
        build_model("sam2.1_hiera_tiny", checkpoint=tmp_path)


def test_family_mismatch_names_the_fitting_model(checkpoint_dir):
    sam21 = official_checkpoint("sam2.1_hiera_tiny", 1, checkpoint_dir)
    with pytest.raises(CheckpointError, match=r"SAM 2\.1 checkpoint.*'sam2\.1_hiera_tiny'"):
        build_model("sam2_hiera_tiny", checkpoint=sam21)
    sam20 = official_checkpoint("sam2_hiera_tiny", 1, checkpoint_dir)
    with pytest.raises(CheckpointError, match=r"SAM 2 checkpoint.*'sam2_hiera_tiny'"):
        build_model("sam2.1_hiera_tiny", checkpoint=sam20)


def test_other_missing_and_unexpected_keys_are_shown(checkpoint_dir, tmp_path):
    state = torch.load(official_checkpoint("sam2.1_hiera_tiny", 1, checkpoint_dir), weights_only=True)["model"]
    state.pop("sam_mask_decoder.iou_token.weight")
    state["something.extra"] = torch.zeros(1)
    path = tmp_path / "edited.pt"
    torch.save({"model": state}, path)
    with pytest.raises(CheckpointError) as err:
        build_model("sam2.1_hiera_tiny", checkpoint=path)
    msg = str(err.value)
    assert "1 missing keys" in msg and "sam_mask_decoder.iou_token.weight" in msg
    assert "1 unexpected keys" in msg and "something.extra" in msg


def test_wrong_size_checkpoint(checkpoint_dir):
    tiny = official_checkpoint("sam2.1_hiera_tiny", 1, checkpoint_dir)
    with pytest.raises(CheckpointError, match="another model size|missing keys"):
        build_model("sam2.1_hiera_small", checkpoint=tiny)


def test_reduced_image_size_shares_weights(checkpoint_dir):
    path = official_checkpoint("sam2.1_hiera_tiny", 1, checkpoint_dir)
    small = build_model("sam2.1_hiera_tiny", checkpoint=path, image_size=256)
    assert small.image_size == 256
    assert tuple(small.sam_prompt_encoder.mask_input_size) == (64, 64)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("sam2.1_hiera_tiny", image_size=100)


def test_import_pulls_in_no_ros_torchvision_or_hydra():
    code = (
        "import sys, sam2_core; bad = [m for m in ('rclpy', 'torchvision', 'hydra', 'sam2') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
