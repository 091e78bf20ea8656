# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training: loss falls on a fixed batch, checkpoints load strictly, resume is exact, DAVIS folders load."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from micro_model import micro_config
from PIL import Image

from sam2_core import build_model, read_checkpoint, register_model
from sam2_core.modeling.sam2 import HeadOutput
from sam2_core.tracker import Tracker
from sam2_core.train import main as train_main
from sam2_core.training.clip_forward import PromptMix, clip_loss, make_batch
from sam2_core.training.data import (
    TRAIN_SEED_MIN,
    DavisFolder,
    SyntheticClips,
    draw_offsets,
    read_index_png,
    resize_masks,
)
from sam2_core.training.loop import IMAGE_SAMPLE_BASE
from sam2_core.training.losses import LossWeights, head_losses

TINY = "test_train_tiny"


@pytest.fixture(scope="module", autouse=True)
def tiny_model() -> str:
    """A few-thousand-parameter SAM 2.1 network at 64 x 64 input (same modules, small widths)."""
    register_model(micro_config(TINY))
    return TINY


def _train_args(out, steps: int, *extra: str) -> list[str]:
    return [
        "--model", TINY, "--out", str(out), "--steps", str(steps), "--batch-size", "2", "--clip-len", "3",
        "--save-every", "1", "--log-every", "1", "--warmup-steps", "1", "--device", "cpu", *extra,
    ]  # fmt: skip


def test_loss_decreases_on_a_fixed_batch():
    """Ten AdamW steps on one batch (same prompts and dropout each step) must lower the loss."""
    torch.manual_seed(0)
    model = build_model(TINY).train()
    source = SyntheticClips(64, 3, seed=5)
    offsets = draw_offsets(np.random.default_rng(0), 3, 36, False)
    batch = make_batch([source.sample(i, offsets) for i in range(2)])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        torch.manual_seed(1)
        loss, stats = clip_loss(model, batch, np.random.default_rng(3))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        assert np.isfinite(losses[-1]) and stats["objects"] == batch.targets.shape[0]
    assert losses[-1] < 0.8 * losses[0], losses


def test_image_level_training_with_repeated_prompts():
    """clip_len 1 trains SAM's image stage (no mask prompts, no memory); repeated rows get their own prompts."""
    torch.manual_seed(0)
    model = build_model(TINY).train()
    batch = make_batch([SyntheticClips(64, 1, seed=5).sample(i, np.zeros(1, np.int64)) for i in range(2)])
    n = batch.targets.shape[0]
    rep = batch.repeat_objects(3)
    assert rep.targets.shape[0] == 3 * n and torch.equal(rep.targets[::3], batch.targets)
    assert torch.equal(rep.clip_of_row, batch.clip_of_row.repeat_interleave(3))
    mask_only = PromptMix(p_click=0.0, p_box=0.0)  # a mask prompt would leave nothing to train at T = 1
    outputs = []
    loss, stats = clip_loss(model, rep, np.random.default_rng(0), mask_only, outputs=outputs)
    loss.backward()
    assert stats["objects"] == 3 * n and np.isnan(stats["track_iou"]) and len(outputs) >= 1
    assert all(p.grad is not None for p in model.sam_mask_decoder.parameters() if p.requires_grad)
    assert all(p.grad is None for p in model.memory_encoder.parameters())  # no memory at T = 1


def test_cli_image_level_stage(tmp_path):
    assert train_main([*_train_args(tmp_path, 2), "--clip-len", "1", "--prompts-per-object", "2"]) == 0
    build_model(TINY, checkpoint=tmp_path / "checkpoint.pt")
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["clip_len"] for r in logged] == [1, 1]


def test_cli_mixes_image_level_steps_into_video_training(tmp_path):
    """--image-prob: that share of steps is image-level, with its own batch size and prompts per object."""
    args = [*_train_args(tmp_path, 6), "--image-prob", "0.5", "--image-batch-size", "3"]
    assert train_main([*args, "--image-prompts-per-object", "2", "--max-objects", "1"]) == 0
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    image = [np.random.default_rng([0, s, 11]).random() < 0.5 for s in range(6)]
    assert any(image) and not all(image)  # seed 0 gives both kinds in 6 steps
    assert [r["clip_len"] for r in logged] == [1 if i else 3 for i in image]
    # object rows: image steps take 3 clips from their own index range and prompt each object twice;
    # video steps take 2 clips, once each (scripted scenes may hold more objects than --max-objects)
    source = SyntheticClips(64, 3, seed=0, max_objects=1)

    def objects(first: int, clips: int) -> int:
        return sum(source.sample(first + j, np.zeros(1, np.int64)).masks.shape[1] for j in range(clips))

    expected = [2 * objects(IMAGE_SAMPLE_BASE + 3 * s, 3) if i else objects(2 * s, 2) for s, i in enumerate(image)]
    assert [r["objects"] for r in logged] == expected
    assert all(np.isnan(r["track_iou"]) == i for r, i in zip(logged, image, strict=True))
    build_model(TINY, checkpoint=tmp_path / "checkpoint.pt")


def test_mask_loss_trains_the_candidate_the_iou_head_picks():
    """Best-of-3 alone lets a prompt-blind candidate set fit; the IoU head's pick is trained as well."""
    target = torch.zeros(1, 8, 8, dtype=torch.bool)
    target[0, 2:6, 2:6] = True
    good = torch.where(target, 10.0, -10.0)
    bad = -good
    logits = torch.stack([good, bad, bad], 1)  # 1 x 3 x 8 x 8: candidate 0 fits

    def losses(ious):
        out = HeadOutput(logits, logits, torch.tensor([ious]), logits[:, :1], logits[:, :1], None, torch.ones(1, 1))
        return head_losses(out, target, LossWeights())

    picks_best, picks_wrong = losses([0.9, 0.1, 0.1]), losses([0.1, 0.9, 0.1])
    assert picks_wrong["dice"] > picks_best["dice"] + 0.9 and picks_wrong["focal"] > picks_best["focal"]


def test_synthetic_training_clips_use_training_seeds_only():
    source = SyntheticClips(64, 4, seed=0)
    offsets = np.array([0, 1, 2, 3])
    for i in range(5):
        s = source.sample(i, offsets)
        assert int(s.name.split("-")[-1]) >= TRAIN_SEED_MIN
        assert s.frames.shape == (4, 64, 64, 3) and s.frames.dtype == np.uint8
        assert s.masks.shape[0] == 4 and s.masks.shape[2:] == (64, 64) and 1 <= s.masks.shape[1] <= 3
        assert s.masks[0].reshape(s.masks.shape[1], -1).any(axis=1).all()  # every target visible on frame 0
    again = source.sample(3, offsets)
    np.testing.assert_array_equal(again.frames, source.sample(3, offsets).frames)  # seeded: exact


def test_resize_masks_many_objects():
    """More than 4 masks at any scale (OpenCV's area resize takes at most 4 channels at some scales)."""
    masks = np.zeros((6, 240, 320), bool)
    for k in range(6):
        masks[k, 20 * k : 20 * k + 40, 30 * k : 30 * k + 60] = True
    for size in (64, 128, 256, 384):
        out = resize_masks(masks, size)
        assert out.shape == (6, size, size)
        for k in range(6):  # each mask resized on its own gives the same
            np.testing.assert_array_equal(out[k], resize_masks(masks[k : k + 1], size)[0])
        np.testing.assert_allclose(out.sum((1, 2)) / size**2, masks.sum((1, 2)) / masks[0].size, atol=0.01)


def test_object_size_range_of_synthetic_training_clips(tmp_path):
    """--object-size draws targets from another size range (e.g. more small objects); bad ranges are refused."""

    def areas(**kw) -> np.ndarray:
        source = SyntheticClips(128, 1, seed=0, max_objects=5, **kw)
        return np.concatenate([source.sample(i, np.zeros(1, np.int64)).masks[0].sum((1, 2)) for i in range(12)])

    small, default = areas(object_size=(0.06, 0.1)), areas()
    assert np.median(small) < 0.3 * np.median(default)  # diameters 6-10 % vs 12-30 % of the side
    with pytest.raises(ValueError, match="object_size"):
        SyntheticClips(64, 1, object_size=(0.3, 0.1))
    with pytest.raises(SystemExit):
        train_main([*_train_args(tmp_path, 1), "--object-size", "0", "0.3"])
    assert train_main([*_train_args(tmp_path, 1), "--object-size", "0.2", "0.3", "--clip-len", "1"]) == 0
    assert json.loads((tmp_path / "train_config.json").read_text())["object_size"] == [0.2, 0.3]


def test_scenario_weights_of_synthetic_training_clips(tmp_path, capsys):
    """--scenario-weights sets the mix of scene scenarios (unnamed ones are left out); bad mixes are refused."""

    def scenarios(**kw) -> set[str]:
        source = SyntheticClips(64, 1, seed=0, **kw)
        return {source.sample(i, np.zeros(1, np.int64), difficulty=0.0).name.split("-")[1] for i in range(16)}

    assert scenarios(scenario_weights={"distractor": 1.0}) == {"distractor"}
    assert scenarios(scenario_weights={"crossing": 1.0, "occlusion": 1.0}) == {"crossing", "occlusion"}
    assert len(scenarios()) >= 3  # the default mix
    for bad in ({"sunny": 1.0}, {"random": -1.0, "crossing": 2.0}, {"random": 0.0}):
        with pytest.raises(ValueError, match="scenario"):
            SyntheticClips(64, 1, scenario_weights=bad)
    for bad, says in (
        ("distractor", "is not NAME=WEIGHT"),
        ("random=x", "is not a number"),
        ("sunny=1", "unknown scenario"),
        ("random=0", "positive sum"),
        ("random=-1,crossing=2", ">= 0"),
    ):
        with pytest.raises(SystemExit):
            train_main([*_train_args(tmp_path, 1), "--scenario-weights", bad])
        assert says in capsys.readouterr().err, bad
    args = [*_train_args(tmp_path, 1), "--scenario-weights", "random=0.5, distractor=0.5", "--clip-len", "1"]
    assert train_main(args) == 0
    assert json.loads((tmp_path / "train_config.json").read_text())["scenario_weights"] == {
        "random": 0.5,
        "distractor": 0.5,
    }


def test_cli_writes_official_checkpoint_and_resume_is_exact(tmp_path):
    """2 steps then --resume to 3 steps gives the same weights (exactly, on CPU) as 3 steps at once."""
    assert train_main(_train_args(tmp_path / "a", 2)) == 0
    ckpt = tmp_path / "a" / "checkpoint.pt"
    data = torch.load(ckpt, weights_only=True)
    assert set(data) == {"model"}
    build_model(TINY, checkpoint=ckpt)  # loads strictly
    state = torch.load(tmp_path / "a" / "train_state.pt", weights_only=True)
    assert state["step"] == 2
    assert train_main(_train_args(tmp_path / "a", 3, "--resume")) == 0
    assert train_main(_train_args(tmp_path / "b", 3)) == 0
    resumed, straight = read_checkpoint(ckpt), read_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for k, v in straight.items():
        torch.testing.assert_close(resumed[k], v, rtol=0, atol=0, msg=k)
    logs = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) for r in logs)
    # a checkpoint trained here fine-tunes further through --checkpoint
    assert train_main(_train_args(tmp_path / "c", 1, "--checkpoint", str(ckpt))) == 0


def _davis_folder(root, palette: bool) -> np.ndarray:
    """Two 5-frame videos of moving squares (ids 1, 2 and a 255 'void' row); returns video a's labels."""
    labels_a = None
    for video, shift in (("a", 2), ("b", 3)):
        (root / "JPEGImages" / video).mkdir(parents=True)
        (root / "Annotations" / video).mkdir(parents=True)
        labels = np.zeros((5, 40, 56), np.uint8)
        for t in range(5):
            labels[t, 5:15, 4 + shift * t : 14 + shift * t] = 1
            labels[t, 22:34, 30 - shift * t : 42 - shift * t] = 2
            labels[t, -1] = 255
            img = np.full((40, 56, 3), 90, np.uint8)
            img[labels[t] == 1] = (220, 30, 30)
            img[labels[t] == 2] = (30, 200, 60)
            cv2.imwrite(str(root / "JPEGImages" / video / f"{t:05d}.jpg"), img[..., ::-1])
            path = root / "Annotations" / video / f"{t:05d}.png"
            if palette:
                im = Image.fromarray(labels[t], mode="P")
                pal = np.zeros((256, 3), np.uint8)
                pal[1], pal[2], pal[255] = (128, 0, 0), (0, 128, 0), (224, 224, 192)  # the DAVIS palette
                im.putpalette(pal.ravel().tolist())
                im.save(path)
            else:
                cv2.imwrite(str(path), labels[t])
        labels_a = labels if video == "a" else labels_a
    return labels_a


@pytest.mark.parametrize("palette", [True, False])
def test_davis_folder_loader(tmp_path, palette):
    labels = _davis_folder(tmp_path, palette)
    np.testing.assert_array_equal(read_index_png(tmp_path / "Annotations" / "a" / "00003.png"), labels[3])
    folder = DavisFolder(tmp_path)
    assert folder.videos == ["a", "b"]
    frames, masks, ids = folder.load_video("a")
    assert frames.shape == (5, 40, 56, 3) and list(ids) == [1, 2]
    np.testing.assert_array_equal(masks, labels[:, None] == np.array([1, 2])[None, :, None, None])
    clips = folder.sample_clips(image_size=64, clip_len=3, seed=0, max_objects=2)
    s = clips.sample(0, np.array([0, 1, 2]))
    assert s.frames.shape == (3, 64, 64, 3) and s.masks.shape == (3, 2, 64, 64)
    assert np.diff(s.frame_indices).tolist() == [1, 1] and s.masks[0].any(axis=(1, 2)).all()


def test_cli_trains_on_a_davis_folder(tmp_path):
    _davis_folder(tmp_path / "davis", palette=True)
    assert train_main(_train_args(tmp_path / "run", 1, "--data", str(tmp_path / "davis"))) == 0
    build_model(TINY, checkpoint=tmp_path / "run" / "checkpoint.pt")


def test_training_forward_equals_the_tracker():
    """In eval mode (no dropout), the training forward on a clip prompted with masks gives the Tracker's
    masks on every later frame: same memory layout, temporal encodings and pointers. Tolerance: the
    Tracker stores memories in bfloat16 and re-encodes the prompted frame from its low-res output, so
    logits (clamped to +-20) agree to 0.1 and the binary masks to 99 % IoU, not bit for bit."""
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    head = model.sam_mask_decoder.pred_obj_score_head
    with torch.no_grad():  # objects present on every frame, so the masks are not all NO_OBJ_SCORE
        (head.layers[-1] if hasattr(head, "layers") else head).bias.fill_(10.0)
    sample = SyntheticClips(64, 8, seed=2).sample(0, np.arange(8))
    outs = []
    with torch.no_grad():
        clip_loss(model, make_batch([sample]), np.random.default_rng(0), PromptMix(0.0, 0.0), outputs=outs)
    tracker = Tracker(model, fill_hole_area=0)
    nonempty = 0
    for t, frame in enumerate(sample.frames):
        res = tracker.track(frame)
        if t == 0:
            for k, mask in enumerate(sample.masks[0]):
                res = tracker.add_prompt(k + 1, mask=mask)
            continue
        ours = outs[t].high_res_masks[:, 0]
        torch.testing.assert_close(ours.clamp(-20, 20), res.mask_logits.clamp(-20, 20), atol=0.1, rtol=0)
        inter = ((ours > 0) & res.masks).sum().item()
        union = ((ours > 0) | res.masks).sum().item()
        assert union == 0 or inter / union >= 0.99
        nonempty += union > 0
    assert nonempty == 7
