# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_core.evaluate``: the CLI runs end to end, and scores are exact for known predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from micro_model import micro_config

from sam2_core import bundled_checkpoint, register_model
from sam2_core.evaluate import evaluate_video, main, synthetic_videos, track_video
from sam2_core.metrics import evaluate_sequence
from sam2_core.training.data import TRAIN_SEED_MIN

TINY = "test_eval_tiny"


@pytest.fixture(scope="module", autouse=True)
def tiny_model() -> None:
    register_model(micro_config(TINY))


class OracleTracker:
    """Follows the Tracker contract and returns the ground truth: records the prompts it got."""

    def __init__(self, gt: np.ndarray) -> None:
        self.gt, self.t, self.prompts = gt, -1, []

    def reset(self) -> None:
        self.t, self.prompts = -1, []

    def _result(self):
        ids = [p[0] for p in self.prompts]
        masks = torch.from_numpy(self.gt[self.t, : len(ids)])
        return type("R", (), {"masks": masks, "object_scores": torch.where(masks.flatten(1).any(1), 5.0, -5.0)})

    def track(self, frame):
        self.t += 1
        return self._result()

    def add_prompt(self, obj_id, points=None, labels=None, box=None, mask=None):
        self.prompts.append((obj_id, points, labels, box, mask))
        return self._result()


def test_oracle_scores_one_and_baseline_is_repeating_the_first_mask():
    ((name, frames, gt),) = synthetic_videos(1, seed_start=3, scenario="random", height=48, width=64, num_frames=6)
    oracle = OracleTracker(gt)
    result, pred, scores = evaluate_video(oracle, name, frames, gt, "click")
    assert result.J == result.F == result.JF == 1.0
    np.testing.assert_array_equal(pred, gt)
    assert (scores > 0).all() == gt.reshape(*gt.shape[:2], -1).any(-1).all()
    expected = evaluate_sequence(np.repeat(gt[:1], len(gt), axis=0), gt)["J&F"]
    assert result.baseline_JF == pytest.approx(expected, abs=1e-12)
    # one positive click per object, inside its first-frame mask, ids 1..K
    assert [p[0] for p in oracle.prompts] == list(range(1, gt.shape[1] + 1))
    for k, (_, points, labels, _, _) in enumerate(oracle.prompts):
        ((x, y),) = points
        assert labels == [1] and gt[0, k, int(y), int(x)]
    track_video(oracle, frames, gt[0], "box")
    assert all(p[3] is not None for p in oracle.prompts)


def test_evaluation_seeds_are_held_out():
    with pytest.raises(ValueError, match="below"):
        next(synthetic_videos(2, seed_start=TRAIN_SEED_MIN - 1))


def test_cli_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["--model", TINY, "--num-clips", "2", "--frames", "3", "--height", "48", "--width", "64",
            "--json", str(out), "--device", "cpu", "--random-weights"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "weights: random" in captured.err
    printed = captured.out
    assert "J&F" in printed and "random-0" in printed and "mean" in printed
    data = json.loads(out.read_text())
    assert [v["name"] for v in data["videos"]] == ["random-0", "random-1"]
    for v in data["videos"]:
        assert 0.0 <= v["J"] <= 1.0 and 0.0 <= v["F"] <= 1.0 and v["JF"] == pytest.approx((v["J"] + v["F"]) / 2)
    assert data["summary"]["num_videos"] == 2


def test_cli_weights_default_to_the_bundled_checkpoint_and_never_silently_random(tmp_path, capsys):
    """No --checkpoint: the model's bundled weights (the nano's); a model without any is an error."""
    small = ["--num-clips", "1", "--frames", "2", "--height", "48", "--width", "64", "--device", "cpu"]
    assert main(["--model", "sam2.1_hiera_nano", *small]) == 0
    assert f"weights: {bundled_checkpoint('sam2.1_hiera_nano')}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", TINY, *small])
    assert "no weights are bundled" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", TINY, "--checkpoint", str(tmp_path / "x.pt"), "--random-weights", *small])
    assert "exclude each other" in capsys.readouterr().err
