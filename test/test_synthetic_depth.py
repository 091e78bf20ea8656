# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The synthetic scenes' exact depth: consistent with the labels and drawing order, a true background plane,
3-D truth per object, and no change at all to the scenes' images and labels."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_core.synthetic import BAND_LABEL, SceneConfig, SyntheticScene
from sam2_core.synthetic_depth import BAND_DEPTH_M, FAR_M, NEAR_M

SMALL = {"height": 72, "width": 96, "num_frames": 30}
INTRINSICS = (80.0, 85.0, 47.5, 35.5)


def test_depth_changes_nothing_in_the_scene_and_is_deterministic():
    cfg = SceneConfig(scenario="distractor", **SMALL)
    plain = SyntheticScene(4, cfg)
    with_depth = SyntheticScene(4, cfg)
    first = with_depth.depth(7)  # depth first, then the images: they must not differ from a scene without
    for t in (0, 7, 29):
        a, b = plain.render(t), with_depth.render(t)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert plain.objects == with_depth.objects and plain.events == with_depth.events
    np.testing.assert_array_equal(first, SyntheticScene(4, cfg).depth(7))
    assert not np.array_equal(first, SyntheticScene(5, cfg).depth(7))


@pytest.mark.parametrize("scenario", ["occlusion", "distractor", "crossing"])
def test_every_pixel_holds_the_depth_of_what_is_drawn_there_nearer_on_top(scenario):
    scene = SyntheticScene(1, SceneConfig(scenario=scenario, **SMALL))
    drawn = [*scene.objects, *scene.distractors]
    for t in (0, 15):
        _, label = scene.render(t)
        depth = scene.depth(t, label)
        assert depth.dtype == np.float32 and depth.shape == label.shape and np.isfinite(depth).all()
        by_label = scene.label_depths(t)
        for value in np.unique(label):
            if value != 0:
                np.testing.assert_array_equal(depth[label == value], np.float32(by_label[int(value)]))
        # drawing order: a shape drawn later (higher ObjectInfo.depth) is nearer the camera
        shapes = sorted(
            (d.depth, by_label[d.obj_id if d.role != "distractor" else -2 - scene.distractors.index(d)]) for d in drawn
        )
        z = [z for _, z in shapes]
        assert z == sorted(z, reverse=True) and NEAR_M <= min(z) and max(z) <= FAR_M
        if BAND_LABEL in label:
            assert depth[label == BAND_LABEL].max() == BAND_DEPTH_M < min(z)
        assert depth[label == 0].min() > FAR_M  # the background is behind every shape


def test_the_background_is_a_plane_for_any_pinhole_camera():
    scene = SyntheticScene(2, SceneConfig(**SMALL))
    _, label = scene.render(0)
    depth = scene.depth(0, label).astype(np.float64)
    vs, us = np.nonzero(label == 0)
    fx, fy, cx, cy = INTRINSICS
    z = depth[vs, us]
    points = np.stack([(us - cx) / fx * z, (vs - cy) / fy * z, z], axis=1)
    centred = points - points.mean(0)
    assert np.linalg.svd(centred, compute_uv=False)[-1] / np.sqrt(len(points)) < 1e-6  # flat to a micrometre


def test_depths_move_over_time_without_changing_order():
    scene = SyntheticScene(3, SceneConfig(num_objects=(4, 4), **SMALL))
    series = np.array([[scene.label_depths(t)[k] for k in range(1, 5)] for t in range(60)])
    assert (series.max(0) - series.min(0)).min() > 0.005  # every object moves in depth
    order = np.argsort(series, axis=1)
    assert (order == order[0]).all()


def test_objects_3d_is_each_visible_surface_back_projected():
    scene = SyntheticScene(0, SceneConfig(scenario="occlusion", **SMALL))
    hidden = next(e for e in scene.events if e.kind == "occlusion")
    occluded = hidden.obj_ids[0]
    t = (hidden.start + hidden.stop) // 2
    _, label = scene.render(t, noise=False)
    depth = scene.depth(t, label)
    truths = scene.objects_3d(t, INTRINSICS)
    assert [s.obj_id for s in truths] == list(scene.obj_ids) and truths[occluded - 1].pixels == 0
    for truth in truths:
        vs, us = np.nonzero(label == truth.obj_id)
        if len(vs) == 0:  # hidden (behind the band)
            assert truth.pixels == 0 and np.isnan(truth.centroid).all()
            continue
        z = depth[vs, us].astype(np.float64)
        fx, fy, cx, cy = INTRINSICS
        points = np.stack([(us - cx) / fx * z, (vs - cy) / fy * z, z], axis=1)
        assert truth.pixels == len(vs)
        np.testing.assert_allclose(truth.centroid, points.mean(0))
        np.testing.assert_allclose(truth.lower, points.min(0))
        np.testing.assert_allclose(truth.upper, points.max(0))
