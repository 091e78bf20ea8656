# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ImagePredictor against Meta's reference image path (built from SAM2Base pieces) on random weights.

Tolerance: logits within 1e-4 absolute (fp32, CPU; the computations are the same ops in the
same order, observed differences are ~1e-6), and the acceptance metric (sign agreement on
>= 99.5 % of pixels) on top.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference import reference_video_model

from sam2_core import ImagePredictor, build_model

H, W = 180, 244  # non-square, not a multiple of anything
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(9, 12, 3)).astype(np.float32)
    img = (
        torch.nn.functional.interpolate(
            torch.from_numpy(coarse).permute(2, 0, 1)[None], size=(H, W), mode="bicubic", align_corners=False
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


class ReferenceImagePath:
    """SAM2ImagePredictor's computation, written with the reference model's own modules.

    (The reference predictor class itself imports torchvision, which cannot load here; its
    resize is torchvision's antialiased bilinear, i.e. F.interpolate(antialias=True).)
    """

    def __init__(self, ref, image: np.ndarray):
        self.ref = ref
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=(ref.image_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
        x = (x - MEAN) / STD
        with torch.inference_mode():
            out = ref.forward_image(x)
            _, feats, _, sizes = ref._prepare_backbone_features(out)
            feats[-1] = feats[-1] + ref.no_mem_embed
        maps = [f.permute(1, 2, 0).view(1, -1, *s) for f, s in zip(feats, sizes)]
        self.embed, self.high_res = maps[-1], maps[:-1]

    @torch.inference_mode()
    def predict(self, points=None, labels=None, box=None, mask_input=None, multimask=True):
        ref = self.ref
        coords = lab = None
        if points is not None:
            coords = torch.as_tensor(points, dtype=torch.float)[None].clone()
            coords[..., 0] /= W
            coords[..., 1] /= H
            coords = coords * ref.image_size
            lab = torch.as_tensor(labels, dtype=torch.int)[None]
        if box is not None:
            b = torch.as_tensor(box, dtype=torch.float).reshape(-1, 2, 2).clone()
            b[..., 0] /= W
            b[..., 1] /= H
            b = b * ref.image_size
            blab = torch.tensor([[2, 3]], dtype=torch.int)
            coords = b if coords is None else torch.cat([b, coords], 1)
            lab = blab if lab is None else torch.cat([blab, lab], 1)
        pts = None if coords is None else (coords, lab)
        m = None if mask_input is None else torch.as_tensor(mask_input, dtype=torch.float)[None]
        sparse, dense = ref.sam_prompt_encoder(points=pts, boxes=None, masks=m)
        low, iou, _, _ = ref.sam_mask_decoder(
            image_embeddings=self.embed,
            image_pe=ref.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=False,
            high_res_features=self.high_res,
        )
        masks = F.interpolate(low, (H, W), mode="bilinear", align_corners=False)
        return masks[0].numpy(), iou[0].numpy(), torch.clamp(low, -32, 32)[0].numpy()


@pytest.fixture(scope="module", params=["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def pair(request, checkpoint_dir):
    name = request.param
    image = _image(1)
    ref = reference_video_model(name, seed=3)
    path = f"{checkpoint_dir}/imgpred-{name}.pt"
    torch.save({"model": ref.state_dict()}, path)
    ours = ImagePredictor(build_model(name, checkpoint=path))
    ours.set_image(image)
    return ours, ReferenceImagePath(ref, image)


def _assert_same(got, want):
    masks, scores, low = got
    rmasks, rscores, rlow = want
    assert masks.shape == rmasks.shape and masks.dtype == np.float32
    np.testing.assert_allclose(masks, rmasks, atol=1e-4, rtol=0)
    np.testing.assert_allclose(scores, rscores, atol=1e-5, rtol=0)
    np.testing.assert_allclose(low, rlow, atol=1e-4, rtol=0)
    assert np.mean(np.sign(masks) == np.sign(rmasks)) >= 0.995


PROMPTS = {
    "one_click": dict(points=[[120.0, 90.0]], labels=[1]),
    "clicks": dict(points=[[120.0, 90.0], [30.5, 20.25], [200.0, 150.0]], labels=[1, 0, 1]),
    "box": dict(box=[40.0, 30.0, 190.0, 140.0]),
    "box_and_clicks": dict(box=[40.0, 30.0, 190.0, 140.0], points=[[100.0, 100.0]], labels=[0]),
    "no_prompt": dict(),
}


@pytest.mark.parametrize("prompt", list(PROMPTS))
@pytest.mark.parametrize("multimask", [True, False])
def test_predict_equals_reference(pair, prompt, multimask):
    ours, ref = pair
    p = PROMPTS[prompt]
    got = ours.predict(
        point_coords=None if "points" not in p else np.array(p["points"]),
        point_labels=None if "labels" not in p else np.array(p["labels"]),
        box=None if "box" not in p else np.array(p["box"]),
        multimask_output=multimask,
        return_logits=True,
    )
    want = ref.predict(p.get("points"), p.get("labels"), p.get("box"), multimask=multimask)
    _assert_same(got, want)
    assert got[0].shape == ((3 if multimask else 1), H, W)
    assert got[2].shape == ((3 if multimask else 1), 256, 256)


def test_mask_input_refinement_equals_reference(pair):
    ours, ref = pair
    _, scores, low = ours.predict(np.array([[120.0, 90.0]]), np.array([1]), return_logits=True)
    mask_input = low[np.argmax(scores)][None]
    got = ours.predict(
        np.array([[60.0, 60.0]]),
        np.array([0]),
        mask_input=mask_input,
        multimask_output=False,
        return_logits=True,
    )
    want = ref.predict([[60.0, 60.0]], [0], mask_input=mask_input, multimask=False)
    _assert_same(got, want)


def test_boolean_masks_and_threshold(pair):
    ours, _ = pair
    logits, _, _ = ours.predict(np.array([[120.0, 90.0]]), np.array([1]), return_logits=True)
    masks, _, _ = ours.predict(np.array([[120.0, 90.0]]), np.array([1]))
    assert masks.dtype == bool
    np.testing.assert_array_equal(masks, logits > 0)


def test_bad_prompts_are_rejected(pair):
    ours, _ = pair
    with pytest.raises(ValueError, match="NaN"):
        ours.predict(np.array([[np.nan, 1.0]]), np.array([1]))
    with pytest.raises(ValueError, match="labels"):
        ours.predict(np.array([[1.0, 1.0]]), np.array([1, 0]))
    with pytest.raises(ValueError, match="1 \\(foreground\\) or 0"):
        ours.predict(np.array([[1.0, 1.0]]), np.array([5]))
    with pytest.raises(ValueError, match="inverted"):
        ours.predict(box=np.array([50.0, 10.0, 20.0, 40.0]))
    with pytest.raises(ValueError, match="4 values"):
        ours.predict(box=np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="mask_input"):
        ours.predict(mask_input=np.zeros((1, 64, 64), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        ours.set_image(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(RuntimeError, match="set_image"):
        ImagePredictor(ours.model).predict(np.array([[1.0, 1.0]]), np.array([1]))
