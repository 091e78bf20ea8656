# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The synthetic video generator: determinism, exact masks, scripted events, streaming (all exact checks)."""

from __future__ import annotations

import colorsys
import functools

import numpy as np
import pytest

from sam2_core.synthetic import (
    BAND_LABEL,
    SCENARIOS,
    SHAPES,
    SceneConfig,
    SyntheticScene,
    generate_clip,
)

SMALL = {"height": 72, "width": 96, "num_frames": 30}
SEEDS = range(4)


@functools.cache
def clip(seed: int, scenario: str = "random", **overrides):
    return generate_clip(seed, SceneConfig(scenario=scenario, **{**SMALL, **overrides}))


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max(), ys.max()


def boxes_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_shapes_and_types():
    c = clip(0)
    t_n, k = SMALL["num_frames"], len(c.obj_ids)
    assert 1 <= k <= 5
    assert c.frames.shape == (t_n, 72, 96, 3) and c.frames.dtype == np.uint8
    assert c.masks.shape == (t_n, k, 72, 96) and c.masks.dtype == bool
    assert c.visible.shape == (t_n, k) and c.visible.dtype == bool
    np.testing.assert_array_equal(c.obj_ids, np.arange(1, k + 1))
    assert [o.obj_id for o in c.objects] == list(c.obj_ids)
    assert all(o.shape in SHAPES for o in c.objects)


def test_deterministic_per_seed_and_different_across_seeds():
    cfg = SceneConfig(scenario="distractor", **SMALL)
    a, b = generate_clip(5, cfg), generate_clip(5, cfg)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.visible, b.visible)
    assert a.events == b.events and a.objects == b.objects and a.distractors == b.distractors
    c = generate_clip(6, cfg)
    assert a.frames.shape != c.frames.shape or not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_masks_are_exclusive_and_visibility_matches_area(scenario):
    for seed in SEEDS:
        c = clip(seed, scenario)
        assert c.masks.sum(axis=1).max() <= 1, "a pixel belongs to at most one object"
        area = c.masks.sum(axis=(2, 3))
        np.testing.assert_array_equal(c.visible, area >= c.config.min_visible_pixels)
        assert c.visible[0].all(), "every target is visible on the prompt frame"


@pytest.mark.parametrize("scenario", ["random", "occlusion", "distractor"])
def test_pixels_are_drawn_exactly_where_the_labels_say(scenario):
    # flat colours and no noise: every pixel is the background, a target's colour, a distractor's
    # colour or the band, exactly as the label map (and hence the masks) say
    for seed in SEEDS:
        cfg = SceneConfig(scenario=scenario, noise_std=0.0, textured_objects=False, **SMALL)
        scene = SyntheticScene(seed, cfg)
        for t in (0, 13, 29):
            rgb, label = scene.render(t)
            _, masks, _ = scene.frame(t)
            for k, info in zip(scene.obj_ids, scene.objects):
                np.testing.assert_array_equal(masks[k - 1], label == k)
                assert (rgb[label == k] == info.color).all()
            for i, info in enumerate(scene.distractors):
                assert (rgb[label == -2 - i] == info.color).all()
            bg = label == 0
            np.testing.assert_array_equal(rgb[bg], scene.background[bg])
            assert (label >= -1 - len(scene.distractors)).all()


def test_textured_objects_cover_exactly_their_labels():
    for seed in SEEDS:
        scene = SyntheticScene(seed, SceneConfig(noise_std=0.0, **SMALL))
        rgb, label = scene.render(7)
        bg = label == 0
        np.testing.assert_array_equal(rgb[bg], scene.background[bg])
        for k in scene.obj_ids:
            # textures vary inside an object but are not the background
            inside = label == k
            if inside.sum() > 30:
                assert (rgb[inside] != scene.background[inside]).any(axis=1).mean() > 0.5


def test_streaming_matches_clip_in_any_order():
    cfg = SceneConfig(scenario="occlusion", **SMALL)
    c = generate_clip(3, cfg)
    scene = SyntheticScene(3, cfg)
    for t in (29, 4, 17, 0):
        rgb, masks, visible = scene.frame(t)
        np.testing.assert_array_equal(rgb, c.frames[t])
        np.testing.assert_array_equal(masks, c.masks[t])
        np.testing.assert_array_equal(visible, c.visible[t])
    for t, (rgb, masks, _) in enumerate(scene.stream(10, 13), start=10):
        np.testing.assert_array_equal(rgb, c.frames[t])
        np.testing.assert_array_equal(masks, c.masks[t])
    # an endless stream continues past the planned clip
    stream = scene.stream(start=len(scene) - 1)
    for _ in range(5):
        rgb, masks, visible = next(stream)
    assert rgb.shape == (72, 96, 3) and masks.shape == c.masks.shape[1:]


def test_objects_vary_across_seeds():
    shapes, counts = set(), set()
    for seed in range(12):
        scene = SyntheticScene(seed, SceneConfig(**SMALL))
        shapes |= {o.shape for o in scene.objects}
        counts.add(len(scene.obj_ids))
    assert shapes == set(SHAPES)
    assert len(counts) >= 3 and counts <= set(range(1, 6))


def test_occlusion_hides_the_target_for_ten_frames():
    for seed in SEEDS:
        c = clip(seed, "occlusion")
        (event,) = c.events_of("occlusion")
        (k,) = event.obj_ids
        assert event.stop - event.start >= max(10, c.config.hidden_frames)
        area = c.masks[:, k - 1].sum(axis=(1, 2))
        assert (area[event.start : event.stop] == 0).all()
        assert c.visible[: event.start, k - 1].any() and c.visible[event.stop :, k - 1].any()
        assert c.visible[0, k - 1] and c.visible[-1, k - 1]
        # the occluder is a band drawn over everything, not a target
        rgb, label = SyntheticScene(seed, c.config).render(event.start)
        assert (label == BAND_LABEL).any()


def test_exit_reenter_touches_border_then_leaves_then_returns():
    for seed in SEEDS:
        c = clip(seed, "exit_reenter")
        (event,) = c.events_of("exit_reenter")
        (k,) = event.obj_ids
        masks = c.masks[:, k - 1]
        assert event.stop - event.start >= c.config.hidden_frames
        assert not masks[event.start : event.stop].any()
        assert any(touches_border(m) for m in masks[: event.start])
        assert any(touches_border(m) for m in masks[event.stop :])
        assert c.visible[0, k - 1] and c.visible[-1, k - 1]


def test_crossing_objects_overlap_in_bounding_boxes():
    for seed in SEEDS:
        c = clip(seed, "crossing")
        (event,) = c.events_of("crossing")
        assert len(set(event.obj_ids)) == 3 and len(c.obj_ids) >= 3
        idx = [k - 1 for k in event.obj_ids]
        crossed = False
        for t in range(event.start, event.stop):
            if not c.masks[t, idx].any(axis=(1, 2)).all():
                continue
            boxes = [bbox(c.masks[t, i]) for i in idx]
            crossed |= all(boxes_overlap(boxes[i], boxes[j]) for i, j in ((0, 1), (0, 2), (1, 2)))
        assert crossed
        # apart at the start and at the end
        for t in (0, c.config.num_frames - 1):
            boxes = [bbox(c.masks[t, i]) for i in idx]
            assert not all(boxes_overlap(boxes[i], boxes[j]) for i, j in ((0, 1), (0, 2), (1, 2)))


def test_distractors_look_alike_but_are_not_targets():
    for seed in SEEDS:
        c = clip(seed, "distractor")
        (event,) = c.events_of("distractor")
        (k,) = event.obj_ids
        target = c.objects[k - 1]
        assert 1 <= len(c.distractors) <= 2
        for d in c.distractors:
            assert d.obj_id == 0 and d.mimics == k and d.role == "distractor"
            assert d.shape == target.shape and d.texture == target.texture
            h_d = colorsys.rgb_to_hsv(*np.array(d.color) / 255)[0]
            h_t = colorsys.rgb_to_hsv(*np.array(target.color) / 255)[0]
            assert min(abs(h_d - h_t), 1 - abs(h_d - h_t)) <= 0.05
        # drawn near the target during the event, and absent from every mask
        scene = SyntheticScene(seed, c.config)
        seen = 0
        for t in range(event.start, event.stop):
            _, label = scene.render(t)
            assert not (c.masks[t].any(axis=0) & (label <= -2)).any()
            seen += (label <= -2).sum() >= c.config.min_visible_pixels and c.visible[t, k - 1]
        assert seen, "the distractor and its target are both in view while they pass each other"


def test_random_scenario_with_all_events():
    cfg = SceneConfig(p_occlusion=1.0, p_exit_reenter=1.0, p_distractor=1.0, num_objects=(2, 3), **SMALL)
    c = generate_clip(1, cfg)
    assert {e.kind for e in c.events} == {"occlusion", "exit_reenter", "distractor"}
    assert sorted(e.start for e in c.events) == [e.start for e in c.events]


def test_label_maps():
    c = clip(2)
    labels = c.label_maps()
    assert labels.shape == c.frames.shape[:3] and labels.dtype == np.uint8
    for k in c.obj_ids:
        np.testing.assert_array_equal(labels == k, c.masks[:, k - 1])


def test_invalid_configs_raise():
    with pytest.raises(ValueError):
        SceneConfig(scenario="teleport")
    with pytest.raises(ValueError):
        SceneConfig(scenario="occlusion", num_frames=15)
    with pytest.raises(ValueError):
        SceneConfig(num_objects=(3, 2))
    with pytest.raises(ValueError):
        SyntheticScene(-1)
