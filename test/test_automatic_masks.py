# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""AutomaticMaskGenerator against Meta's SAM2AutomaticMaskGenerator (sam2==1.1.0), and its helpers.

The reference runs with stand-ins for the torchvision functions it imports and for its CUDA
connected-components extension (test/reference_amg.py). Two models, each loaded into both
implementations from one checkpoint:

- the bundled sam2.1_hiera_nano (trained on synthetic scenes), rebuilt from the reference's own
  modules: its masks are real objects, so every stage (IoU and stability filters, box NMS,
  crop-edge filter, NMS between crops, mask-to-mask refinement, small-region removal) has work;
- a random SAM 2.1 tiny at a reduced input size (256; the reference is built with the same
  override). Random weights give mask logits of a few hundredths, so no mask is stable at the
  default offset of 1: the last layer of the decoder's hypernetworks is scaled by 40 in the shared
  checkpoint, and the thresholds are relaxed until masks survive.

Parity means the same masks (bit for bit) in the same order, scores within 1e-5 (same ops in the
same order; observed differences ~1e-6), and equal areas, boxes, click points and crop boxes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference import reference_video_model
from reference_amg import reference_generator, reference_modules, reference_nano_model

from sam2_core import AutomaticMaskGenerator, build_model, bundled_checkpoint, mask_ops
from sam2_core.synthetic import SceneConfig, SyntheticScene

H, W = 120, 160
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # the reference's transforms
# the defaults, with the IoU and stability thresholds relaxed for the small nano (its IoU head is
# under-confident), and a coarser grid in batches that do not divide it
RELAXED = dict(points_per_side=8, points_per_batch=24, pred_iou_thresh=0.6, stability_score_thresh=0.8)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    scene = SyntheticScene(21, SceneConfig(height=H, width=W, num_objects=(4, 4), num_frames=4))
    return scene.frame(0)[0]


@pytest.fixture(scope="module")
def nano():
    ref = reference_nano_model()
    return ref, build_model("sam2.1_hiera_nano", checkpoint=bundled_checkpoint("sam2.1_hiera_nano")), ref.image_size


@pytest.fixture(scope="module")
def random_tiny(checkpoint_dir):
    name, size = "sam2.1_hiera_tiny", 256
    ref = reference_video_model(name, seed=7, image_size=size)
    with torch.no_grad():
        for mlp in ref.sam_mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(40.0)
            mlp.layers[-1].bias.mul_(40.0)
    path = f"{checkpoint_dir}/amg-{name}-{size}.pt"
    torch.save({"model": ref.state_dict()}, path)
    return ref, build_model(name, checkpoint=path, image_size=size), size


def run_both(models, image, **settings):
    ref_model, ours_model, size = models
    with reference_modules():
        want = reference_generator(ref_model, size, **settings).generate(image)
    got = AutomaticMaskGenerator(ours_model, **settings).generate(image)
    return got, want


def assert_same_records(got, want, mode="binary_mask"):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert set(g) == set(w), i
        if mode == "binary_mask":
            assert g["segmentation"].shape == w["segmentation"].shape and g["segmentation"].dtype == bool
            np.testing.assert_array_equal(g["segmentation"], w["segmentation"], err_msg=f"mask {i}")
        else:
            assert g["segmentation"] == w["segmentation"], f"mask {i}"
        assert g["area"] == w["area"] and isinstance(g["area"], int), i
        assert g["bbox"] == w["bbox"] and g["crop_box"] == w["crop_box"], i
        assert g["point_coords"] == w["point_coords"], i
        assert g["predicted_iou"] == pytest.approx(w["predicted_iou"], abs=1e-5), i
        assert g["stability_score"] == pytest.approx(w["stability_score"], abs=1e-5), i


def test_relaxed_defaults_equal_the_reference(nano, image):
    got, want = run_both(nano, image, **RELAXED)
    assert len(want) >= 3, f"only {len(want)} masks survive: the test would prove little"
    assert_same_records(got, want)
    assert all(r["crop_box"] == [0.0, 0.0, float(W), float(H)] for r in got)


def test_one_crop_layer_equals_the_reference(nano, image):
    got, want = run_both(nano, image, **RELAXED, crop_n_layers=1, crop_n_points_downscale_factor=2)
    assert_same_records(got, want)
    crops = {tuple(r["crop_box"]) for r in got}
    assert len(crops) >= 2, crops  # masks come from the sub-crops and the whole image


def test_mask_to_mask_refinement_equals_the_reference(nano, image):
    got, want = run_both(nano, image, **RELAXED, use_m2m=True)
    assert len(want) >= 3
    assert_same_records(got, want)


def test_small_region_removal_equals_the_reference(nano, image):
    # the reference's hole filling / speck removal runs through its CUDA extension; the test gives it
    # an OpenCV stand-in so it really runs on this CPU
    got, want = run_both(nano, image, **RELAXED, min_mask_region_area=12)
    assert_same_records(got, want)
    plain = AutomaticMaskGenerator(nano[1], **RELAXED).generate(image)
    changed = [r for r in got if not any(np.array_equal(r["segmentation"], p["segmentation"]) for p in plain)]
    assert changed, "min_mask_region_area changed no mask: the test would prove nothing"


@pytest.mark.parametrize("mode", ["uncompressed_rle", "coco_rle"])
def test_rle_output_modes_equal_the_reference(nano, image, mode):
    if mode == "coco_rle":
        pytest.importorskip("pycocotools")
    got, want = run_both(nano, image, **RELAXED, output_mode=mode)
    assert len(want) >= 3
    assert_same_records(got, want, mode)
    binary = AutomaticMaskGenerator(nano[1], **RELAXED).generate(image)
    for record, plain in zip(got, binary):
        if mode == "uncompressed_rle":
            np.testing.assert_array_equal(mask_ops.rle_to_mask(record["segmentation"]), plain["segmentation"])
        else:
            from pycocotools import mask as mask_utils

            np.testing.assert_array_equal(mask_utils.decode(record["segmentation"]).astype(bool), plain["segmentation"])


def test_single_mask_output_and_point_grids_equal_the_reference(nano, image):
    grid = np.random.default_rng(0).random((30, 2))
    settings = {**RELAXED, "points_per_side": None, "point_grids": [grid], "multimask_output": False}
    got, want = run_both(nano, image, **settings)
    assert_same_records(got, want)


def test_random_weights_equal_the_reference(random_tiny, image):
    # random masks are scattered over the whole image, so their boxes nearly coincide and any box
    # NMS leaves one: here it only ranks (the nano tests cover suppression)
    settings = {**RELAXED, "pred_iou_thresh": 0.5, "stability_score_thresh": 0.5, "box_nms_thresh": 1.0}
    got, want = run_both(random_tiny, image, **settings)
    assert len(want) >= 5
    assert_same_records(got, want)
    got, want = run_both(random_tiny, image, **settings, use_m2m=True, min_mask_region_area=6)
    assert_same_records(got, want)


# --- helpers and bad input -------------------------------------------------------------------
def test_rle_round_trips_and_counts_runs_column_major():
    rng = np.random.default_rng(1)
    masks = torch.from_numpy(rng.random((5, 7, 9)) > 0.6)
    masks[3] = True
    masks[4] = False
    for mask, rle in zip(masks, mask_ops.masks_to_rle(masks)):
        assert rle["size"] == [7, 9] and sum(rle["counts"]) == 63
        np.testing.assert_array_equal(mask_ops.rle_to_mask(rle), mask.numpy())
        assert mask_ops.rle_area(rle) == int(mask.sum())
    one = torch.zeros(1, 2, 3, dtype=torch.bool)
    one[0, 1, 0] = True  # column-major: the second pixel
    assert mask_ops.masks_to_rle(one)[0]["counts"] == [1, 1, 4]
    assert mask_ops.masks_to_rle(torch.ones(1, 2, 2, dtype=torch.bool))[0]["counts"] == [0, 4]


def test_boxes_of_masks_are_inclusive_and_empty_masks_get_zeros():
    masks = torch.zeros(2, 10, 12, dtype=torch.bool)
    masks[0, 2:5, 3:9] = True
    assert mask_ops.masks_to_boxes(masks).tolist() == [[3, 2, 8, 4], [0, 0, 0, 0]]


def test_box_nms_keeps_the_best_of_overlapping_boxes_in_score_order():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=torch.float32)
    scores = torch.tensor([0.5, 0.9, 0.7, 0.1])
    assert mask_ops.box_nms(boxes, scores, 0.7).tolist() == [1, 2]
    assert mask_ops.box_nms(boxes, scores, 0.95).tolist() == [1, 2, 0, 3]
    assert mask_ops.box_nms(boxes[:0], scores[:0], 0.5).tolist() == []


def test_crop_boxes_tile_the_image_with_overlap():
    boxes, layers = mask_ops.crop_boxes((100, 200), 1, 0.2)
    assert boxes[0] == [0, 0, 200, 100] and layers == [0, 1, 1, 1, 1]
    assert {b[2] for b in boxes[1:]} == {110, 200} and {b[0] for b in boxes[1:]} == {0, 90}
    # an image one pixel tall: the tiles below it would be empty, and are left out
    boxes, layers = mask_ops.crop_boxes((1, 50), 1, 512 / 1500)
    assert all(x1 > x0 and y1 > y0 for x0, y0, x1, y1 in boxes) and layers == [0, 1, 1]


def test_one_pixel_images_with_crop_layers(nano):
    generator = AutomaticMaskGenerator(nano[1], points_per_side=2, crop_n_layers=1)
    for shape in ((1, 1, 3), (1, 50, 3), (50, 1, 3)):
        records = generator.generate(np.full(shape, 120, np.uint8))
        assert all(r["segmentation"].shape == shape[:2] for r in records)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(points_per_side=None), "exactly one"),
        (dict(point_grids=[np.zeros((4, 2))]), "exactly one"),
        (dict(points_per_side=0), "points_per_side"),
        (dict(points_per_batch=0), "points_per_batch"),
        (dict(crop_n_layers=-1), "crop_n_layers"),
        (dict(points_per_side=None, point_grids=[np.zeros((4, 3))]), "N x 2"),
        (dict(points_per_side=None, point_grids=[np.zeros((4, 2))], crop_n_layers=1), "needs more"),
        (dict(pred_iou_thresh=float("nan")), "finite"),
        (dict(output_mode="png"), "output_mode"),
        (dict(min_mask_region_area=-3), "min_mask_region_area"),
    ],
)
def test_bad_settings_are_rejected_with_the_reason(nano, settings, message):
    with pytest.raises(ValueError, match=message):
        AutomaticMaskGenerator(nano[1], **settings)


def test_bad_images_are_rejected(nano):
    generator = AutomaticMaskGenerator(nano[1], points_per_side=2)
    with pytest.raises(ValueError, match="uint8"):
        generator.generate(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        generator.generate(np.zeros((8, 8, 4), np.uint8))
