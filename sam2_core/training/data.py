# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training clips: seeded synthetic scenes generated on the fly, or windows of a DAVIS-style folder.

Seed ranges (disjoint by construction): training draws synthetic scene seeds from
``[TRAIN_SEED_MIN, 2**31)``; evaluation and the quality tests use seeds below ``TRAIN_SEED_MIN``
(``python -m sam2_core.evaluate`` defaults to ``EVAL_SEED_START + i``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..synthetic import SceneConfig, SyntheticScene

TRAIN_SEED_MIN = 1_000_000  # every training scene seed is at least this
TRAIN_SEED_MAX = 2**31 - 1
EVAL_SEED_START = 0  # held-out evaluation seeds: 0, 1, 2, ... (< TRAIN_SEED_MIN)

# scene scenarios mixed into training and their weights (memory behaviours the tracker needs:
# plain motion, full occlusion and re-entry, crossing look-alikes, distractors)
SCENARIO_WEIGHTS = {
    "random": 0.35,
    "occlusion": 0.2,
    "exit_reenter": 0.15,
    "crossing": 0.15,
    "distractor": 0.15,
}


def scenario_mix(weights: dict[str, float] | None) -> dict[str, float]:
    """Every scenario's weight from a partial mix (unnamed scenarios get 0; None: ``SCENARIO_WEIGHTS``).

    ValueError naming the problem for unknown names, negative weights or an all-zero mix.
    """
    weights = dict(SCENARIO_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(SCENARIO_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown} in scenario_weights; expected {list(SCENARIO_WEIGHTS)}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"scenario_weights must be >= 0 with a positive sum, got {weights}")
    return {n: float(weights.get(n, 0.0)) for n in SCENARIO_WEIGHTS}


@dataclass
class ClipSample:
    """T frames of one video with K target objects, resized to the model's square input."""

    frames: np.ndarray  # T x S x S x 3 uint8 RGB
    masks: np.ndarray  # T x K x S x S bool
    frame_indices: np.ndarray  # T int, position of each frame in its video (gaps are allowed)
    name: str


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """``H x W x 3`` uint8 -> ``S x S x 3`` uint8 (area interpolation ~ antialiased resize)."""
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


def resize_masks(masks: np.ndarray, size: int) -> np.ndarray:
    """``K x H x W`` bool -> ``K x S x S`` bool (area coverage >= 0.5)."""
    if masks.shape[0] == 0:
        return np.zeros((0, size, size), bool)
    # at most 4 channels per call: OpenCV's area resize refuses more for some scale factors
    # (e.g. 5 masks from 240 x 320 to 128 x 128)
    parts = []
    for i in range(0, masks.shape[0], 4):
        stack = masks[i : i + 4].transpose(1, 2, 0).astype(np.float32)
        out = cv2.resize(stack, (size, size), interpolation=cv2.INTER_AREA)
        parts.append(out.reshape(size, size, -1).transpose(2, 0, 1))
    return np.concatenate(parts) >= 0.5


def draw_offsets(rng: np.random.Generator, clip_len: int, max_len: int, jump: bool) -> np.ndarray:
    """Frame offsets of a clip from its prompted frame (``clip_len`` ints, first 0, increasing, < max_len).

    Contiguous with stride 1 or 2, or ("jump") the prompted frame then a contiguous run that starts
    later: the later frames then see only old memories of the object, as after a long occlusion.
    """
    if jump and max_len > clip_len + 2:
        start = int(rng.integers(2, max_len - clip_len + 2))
        return np.concatenate([[0], np.arange(start, start + clip_len - 1)]).astype(np.int64)
    stride = 2 if max_len >= 2 * clip_len and rng.random() < 0.5 else 1
    return np.arange(clip_len, dtype=np.int64) * stride


class SyntheticClips:
    """Endless seeded stream of synthetic training clips (``sample(step)`` is deterministic).

    Scenes are drawn at ``frame_hw`` with random scenarios; a clip is ``clip_len`` frames of one
    scene, the first being the prompted frame. ``difficulty`` in [0, 1] grows the share of scripted
    scenarios and of long-gap windows (a curriculum from plain motion to occlusions).
    """

    def __init__(
        self,
        image_size: int,
        clip_len: int,
        seed: int = 0,
        frame_hw: tuple[int, int] = (240, 320),
        scene_frames: int = 36,
        max_objects: int = 3,
        object_size: tuple[float, float] = SceneConfig.object_size,
        scenario_weights: dict[str, float] | None = None,
    ) -> None:
        if not 0.0 < object_size[0] <= object_size[1] <= 1.0:
            raise ValueError(f"object_size must be 0 < min <= max <= 1, got {object_size}")
        self.scenario_weights = scenario_mix(scenario_weights)
        self.image_size = image_size
        self.clip_len = clip_len
        self.seed = seed
        self.frame_hw = frame_hw
        self.scene_frames = scene_frames
        self.max_objects = max_objects
        self.object_size = (float(object_size[0]), float(object_size[1]))

    def sample(self, index: int, offsets: np.ndarray, difficulty: float = 1.0) -> ClipSample:
        """Clip ``index`` of the stream: frames ``offsets`` (from ``draw_offsets``) of a fresh scene."""
        rng = np.random.default_rng([self.seed, index])
        scene_seed = int(rng.integers(TRAIN_SEED_MIN, TRAIN_SEED_MAX))
        names = list(self.scenario_weights)
        weights = np.array([self.scenario_weights[n] for n in names])
        # easy clips first: scripted events fade in with difficulty (unless plain motion is off)
        scripted = np.array([n != "random" for n in names])
        if weights[~scripted].sum() > 0:
            weights[scripted] *= 0.25 + 0.75 * difficulty
        scenario = str(rng.choice(names, p=weights / weights.sum()))
        h, w = self.frame_hw
        if rng.random() < 0.3:  # other aspect ratios: the tracker squashes every frame to a square
            h, w = (w, h) if rng.random() < 0.5 else (h, h)
        config = SceneConfig(
            height=h,
            width=w,
            num_frames=self.scene_frames,
            scenario=scenario,
            num_objects=(1, self.max_objects),
            object_size=self.object_size,
            hidden_frames=10,
        )
        scene = SyntheticScene(scene_seed, config)
        frames, masks = [], []
        for t in offsets:  # the prompt is on frame 0, where every target is visible
            rgb, m, _ = scene.frame(int(t))
            frames.append(resize_frame(rgb, self.image_size))
            masks.append(resize_masks(m, self.image_size))
        return ClipSample(np.stack(frames), np.stack(masks), offsets.copy(), f"synthetic-{scenario}-{scene_seed}")


def _voc_palette() -> np.ndarray:
    """The PASCAL VOC / DAVIS colour of each index 0..255: ``256 x 3`` uint8."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def read_index_png(path: str | os.PathLike) -> np.ndarray:
    """A DAVIS annotation PNG -> ``H x W`` int64 object indices (0 background, 255 ignored).

    Palette and grey PNGs give their indices; OpenCV decodes palette PNGs to colours, which are
    mapped back through the DAVIS palette (a colour outside it gets a stable id from its value).
    """
    arr = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise FileNotFoundError(f"cannot read annotation {path}")
    if arr.ndim == 2:
        return arr.astype(np.int64)
    rgb = cv2.cvtColor(arr[..., :3], cv2.COLOR_BGR2RGB).astype(np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    pal = _voc_palette().astype(np.int64)
    pal_packed = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    lookup = dict(zip(pal_packed.tolist(), range(256)))
    values, inverse = np.unique(packed, return_inverse=True)
    mapped = np.array([lookup.get(v, 256 + v) for v in values.tolist()], dtype=np.int64)
    return mapped[inverse].reshape(packed.shape)


class DavisFolder:
    """A DAVIS-style folder: ``JPEGImages/<video>/*.jpg`` and ``Annotations/<video>/*.png``.

    Annotations are index PNGs (0 background, 1..K objects, 255 ignored); frames without an
    annotation file are skipped. ``videos`` lists the video names, sorted.
    """

    def __init__(self, root: str | os.PathLike, videos: list[str] | None = None) -> None:
        self.root = Path(root)
        images, annotations = self.root / "JPEGImages", self.root / "Annotations"
        if not images.is_dir() or not annotations.is_dir():
            raise FileNotFoundError(f"{self.root} is not a DAVIS-style folder (needs JPEGImages/ and Annotations/)")
        names = sorted(p.name for p in images.iterdir() if p.is_dir() and (annotations / p.name).is_dir())
        self.videos = [v for v in names if videos is None or v in videos]
        if not self.videos:
            raise FileNotFoundError(f"no video in {self.root} has both frames and annotations")

    def frame_files(self, video: str) -> list[tuple[Path, Path]]:
        """(image, annotation) path pairs of a video, in frame order."""
        pairs = []
        for img in sorted((self.root / "JPEGImages" / video).iterdir()):
            if img.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            ann = self.root / "Annotations" / video / (img.stem + ".png")
            if ann.exists():
                pairs.append((img, ann))
        return pairs

    def load_video(self, video: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All frames of a video: (``T x H x W x 3`` uint8 RGB, ``T x K x H x W`` bool masks, ``K`` ids),
        with the objects of the first annotated frame."""
        pairs = self.frame_files(video)
        frames = np.stack([cv2.cvtColor(cv2.imread(str(i), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for i, _ in pairs])
        labels = np.stack([read_index_png(a) for _, a in pairs])
        ids = np.array([v for v in np.unique(labels[0]) if 0 < v < 255], dtype=np.int64)
        masks = labels[:, None] == ids[None, :, None, None]
        return frames, masks, ids

    def sample_clips(self, image_size: int, clip_len: int, seed: int = 0, max_objects: int = 3) -> DavisClips:
        return DavisClips(self, image_size, clip_len, seed, max_objects)


class DavisClips:
    """Seeded random windows of a DavisFolder's videos, objects visible on the window's first frame."""

    def __init__(self, folder: DavisFolder, image_size: int, clip_len: int, seed: int, max_objects: int) -> None:
        self.folder, self.image_size, self.clip_len = folder, image_size, clip_len
        self.seed, self.max_objects = seed, max_objects

    def sample(self, index: int, offsets: np.ndarray, difficulty: float = 1.0, attempt: int = 0) -> ClipSample:
        """A window of a random video at ``offsets`` from a random start (squeezed into short videos)."""
        rng = np.random.default_rng([self.seed, index, attempt])
        video = self.folder.videos[int(rng.integers(len(self.folder.videos)))]
        pairs = self.folder.frame_files(video)
        n = len(pairs)
        if offsets[-1] >= n:  # a short video: keep the order, drop the gaps
            offsets = np.minimum(np.arange(len(offsets)), n - 1)
        start = int(rng.integers(0, n - int(offsets[-1])))
        idx = start + offsets
        frames, labels = [], []
        for t in idx:
            img, ann = pairs[int(t)]
            frames.append(cv2.cvtColor(cv2.imread(str(img), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
            labels.append(read_index_png(ann))
        ids = [v for v in np.unique(labels[0]) if 0 < v < 255]
        if not ids:  # nothing to prompt on this window's first frame: draw another window
            if attempt >= 20:
                raise ValueError(f"no object on the first frame of 20 random windows of {self.folder.root}")
            return self.sample(index, offsets, difficulty, attempt + 1)
        ids = rng.permutation(ids)[: self.max_objects]
        size = self.image_size
        masks = [resize_masks(lab[None] == np.array(ids)[:, None, None], size) for lab in labels]
        return ClipSample(
            np.stack([resize_frame(f, size) for f in frames]), np.stack(masks), idx.astype(np.int64), video
        )
