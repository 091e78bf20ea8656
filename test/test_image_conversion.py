# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Image conversion without cv_bridge: exact pixel values, zero-copy views, every rejection (no rclpy)."""

from __future__ import annotations

import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import Image

from sam2_ros.image_conversion import (
    ImageConversionError,
    compressed_to_rgb,
    fill_image,
    image_to_array,
    image_to_rgb,
    mask_from_image,
)

RNG = np.random.default_rng(7)


def raw_msg(pixels: np.ndarray, encoding: str, *, pad: int = 0, bigendian: bool = False) -> SimpleNamespace:
    """A message-like Image with ``pad`` extra bytes at the end of every row."""
    height, width = pixels.shape[:2]
    row_bytes = pixels[0].nbytes
    element = pixels.dtype.newbyteorder(">" if bigendian else "<") if pixels.dtype.itemsize > 1 else pixels.dtype
    rows = pixels.astype(element).reshape(height, row_bytes // element.itemsize).view(np.uint8)
    padded = np.zeros((height, row_bytes + pad), dtype=np.uint8)
    padded[:, :row_bytes] = rows.reshape(height, row_bytes)
    return SimpleNamespace(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(bigendian),
        step=row_bytes + pad,
        data=array.array("B", padded.tobytes()),
    )


@pytest.mark.parametrize("pad", [0, 3])
def test_rgb8_is_a_zero_copy_view_honouring_step(pad):
    pixels = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = raw_msg(pixels, "rgb8", pad=pad)
    rgb = image_to_rgb(msg)
    np.testing.assert_array_equal(rgb, pixels)
    assert np.shares_memory(rgb, np.frombuffer(msg.data, dtype=np.uint8))


@pytest.mark.parametrize(
    ("encoding", "channels", "to_rgb"),
    [
        ("bgr8", 3, lambda p: p[..., ::-1]),
        ("8UC3", 3, lambda p: p[..., ::-1]),
        ("rgba8", 4, lambda p: p[..., :3]),
        ("bgra8", 4, lambda p: p[..., 2::-1]),
        ("mono8", 1, lambda p: np.repeat(p[..., None], 3, axis=2)),
        ("8UC1", 1, lambda p: np.repeat(p[..., None], 3, axis=2)),
    ],
)
def test_eight_bit_encodings_become_rgb_views(encoding, channels, to_rgb):
    shape = (4, 6, channels) if channels > 1 else (4, 6)
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    msg = raw_msg(pixels, encoding, pad=2)
    rgb = image_to_rgb(msg)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, to_rgb(pixels))
    assert np.shares_memory(rgb, np.frombuffer(msg.data, dtype=np.uint8))


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
def test_sixteen_bit_honours_byte_order(encoding, bigendian):
    pixels = np.array([[0, 1, 256], [4095, 65535, 513]], dtype=np.uint16)
    msg = raw_msg(pixels, encoding, pad=2, bigendian=bigendian)
    np.testing.assert_array_equal(image_to_array(msg), pixels)
    rgb = image_to_rgb(msg)  # stretched by min/max: 0 -> 0, 65535 -> 255
    assert rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb[..., 0], np.rint(pixels.astype(np.float32) * 255 / 65535).astype(np.uint8))


def test_constant_sixteen_bit_image_is_black():
    msg = raw_msg(np.full((2, 2), 700, dtype=np.uint16), "mono16")
    assert not image_to_rgb(msg).any()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"step": 20}, "step 20 is smaller than width * bytes per pixel = 7 * 3"),
        ({"data": array.array("B", bytes(50))}, "fewer than step * height"),
        ({"width": 0}, "zero size"),
        ({"height": 0}, "zero size"),
        ({"encoding": "yuv422"}, "unsupported image encoding 'yuv422'"),
        ({"encoding": ""}, "unsupported image encoding ''"),
    ],
)
def test_bad_images_are_rejected_with_the_reason(change, needle):
    msg = raw_msg(np.zeros((5, 7, 3), dtype=np.uint8), "rgb8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageConversionError, match=needle.replace("*", r"\*")):
        image_to_rgb(msg)


def test_real_message_round_trip_through_fill_image():
    labels = np.array([[0, 1, 2], [65535, 7, 0]], dtype=np.uint16)
    msg = fill_image(Image(), labels, "mono16")
    assert (msg.height, msg.width, msg.step, msg.encoding) == (2, 3, 6, "mono16")
    assert msg.is_bigendian == 0  # this machine is little-endian
    np.testing.assert_array_equal(image_to_array(msg), labels)
    rgb = RNG.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    out = fill_image(Image(), rgb[:, ::-1], "rgb8")  # a strided input is densified
    assert out.step == 12
    np.testing.assert_array_equal(image_to_rgb(out), rgb[:, ::-1])


def test_fill_image_rejects_a_mismatched_array():
    with pytest.raises(ValueError, match="mono16 needs an H x W uint16 array"):
        fill_image(Image(), np.zeros((2, 2), dtype=np.int32), "mono16")


def test_compressed_png_and_jpeg_decode_to_rgb():
    rgb = RNG.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", rgb[..., ::-1])
    assert ok
    decoded = compressed_to_rgb(SimpleNamespace(format="png", data=array.array("B", png.tobytes())))
    np.testing.assert_array_equal(decoded, rgb)  # png is lossless
    flat = np.full((16, 24, 3), (200, 30, 90), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", flat[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = compressed_to_rgb(SimpleNamespace(format="rgb8; jpeg compressed bgr8", data=jpeg.tobytes()))
    assert decoded.shape == (16, 24, 3)
    assert np.abs(decoded.astype(int) - flat).max() <= 4  # tolerance: jpeg loss on a flat colour


@pytest.mark.parametrize(
    ("fmt", "data", "needle"),
    [
        ("jpeg", b"", "no data"),
        ("jpeg", b"definitely not a jpeg", "could not be decoded"),
        ("16UC1; compressedDepth png", b"\x89PNG", "compressed depth"),
    ],
)
def test_bad_compressed_images_are_rejected(fmt, data, needle):
    with pytest.raises(ImageConversionError, match=needle):
        compressed_to_rgb(SimpleNamespace(format=fmt, data=data))


def test_mask_from_image_checks_size_and_encoding():
    mask = np.zeros((4, 5), dtype=np.uint8)
    mask[1:3, 2:4] = 255
    got = mask_from_image(raw_msg(mask, "mono8", pad=3), width=5, height=4)
    np.testing.assert_array_equal(got, mask != 0)
    with pytest.raises(ImageConversionError, match="mask is 5 x 4 but the image is 6 x 4"):
        mask_from_image(raw_msg(mask, "mono8"), width=6, height=4)
    with pytest.raises(ImageConversionError, match="mask encoding must be mono8, got 'rgb8'"):
        mask_from_image(raw_msg(np.zeros((4, 5, 3), np.uint8), "rgb8"), width=5, height=4)
