# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Compressed outputs (no rclpy): lossless 16-bit PNG label image, close JPEG overlay, the plugin's formats."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from std_msgs.msg import Header

from sam2_ros.compressed_images import (
    LABEL_FORMAT,
    OVERLAY_FORMAT,
    CompressionError,
    decode_label_png,
    decode_overlay_jpeg,
    label_png,
    overlay_jpeg,
)
from sam2_ros.outputs import overlay_image


def header(sec: int = 7) -> Header:
    msg = Header(frame_id="camera_optical")
    msg.stamp.sec, msg.stamp.nanosec = sec, 123
    return msg


def labels_with_objects(height: int = 480, width: int = 640) -> np.ndarray:
    """Blobs of several ids, including ids above 255 (they need the high byte) and 65535."""
    labels = np.zeros((height, width), np.uint16)
    labels[10:200, 20:300] = 1
    labels[150:400, 250:600] = 258
    labels[300:470, 30:120] = 65535
    cv2.circle(labels, (500, 100), 60, 4097, -1)
    return labels


def test_label_png_decodes_to_exactly_the_label_image_with_cv2_imread_unchanged():
    rng = np.random.default_rng(0)
    for labels in (labels_with_objects(), rng.integers(0, 65536, (48, 64)).astype(np.uint16)):
        msg = label_png(header(), labels)
        assert msg.format == LABEL_FORMAT == "mono16; png compressed"
        decoded = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded.dtype == np.uint16 and decoded.shape == labels.shape
        np.testing.assert_array_equal(decoded, labels)
        np.testing.assert_array_equal(decode_label_png(msg), labels)
        assert bytes(msg.data[:8]) == b"\x89PNG\r\n\x1a\n"


def test_label_png_is_much_smaller_than_the_raw_label_image():
    msg = label_png(header(), labels_with_objects())
    assert len(msg.data) < 640 * 480 * 2 / 20  # 600 KB raw; label images are mostly flat regions


def test_compressed_messages_carry_the_input_header():
    rgb = np.zeros((48, 64, 3), np.uint8)
    for msg in (label_png(header(), np.zeros((48, 64), np.uint16)), overlay_jpeg(header(), rgb, quality=90)):
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (7, 123, "camera_optical")


def test_overlay_jpeg_decodes_to_the_overlay_within_jpeg_error_and_keeps_rgb_order():
    rng = np.random.default_rng(1)
    frame = np.ascontiguousarray(np.broadcast_to(rng.integers(40, 200, (1, 1, 3), dtype=np.uint8), (480, 640, 3)))
    frame = cv2.GaussianBlur(frame + rng.integers(0, 30, frame.shape, dtype=np.uint8), (5, 5), 0)
    labels = labels_with_objects()
    drawn = overlay_image(frame, labels, [], {}, alpha=0.5)
    msg = overlay_jpeg(header(), drawn, quality=95)
    assert msg.format == OVERLAY_FORMAT == "rgb8; jpeg compressed bgr8"
    decoded = decode_overlay_jpeg(msg)
    assert decoded.shape == drawn.shape and decoded.dtype == np.uint8
    error = np.abs(decoded.astype(np.int16) - drawn.astype(np.int16))
    psnr = 10 * np.log10(255.0**2 / np.mean(error.astype(np.float64) ** 2))
    assert error.mean() < 3.0 and psnr > 32, (error.mean(), psnr)
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    assert (decode_overlay_jpeg(overlay_jpeg(header(), red, quality=95))[..., 0] > 240).all()  # red stays red


def test_lower_jpeg_quality_gives_smaller_overlays():
    rng = np.random.default_rng(2)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (3, 3), 0)
    sizes = [len(overlay_jpeg(header(), rgb, quality=q).data) for q in (95, 50, 10)]
    assert sizes[0] > sizes[1] > sizes[2]


@pytest.mark.parametrize(
    "labels",
    [np.zeros((4, 5), np.uint8), np.zeros((4, 5, 1), np.uint16), np.zeros((0, 5), np.uint16), np.zeros((4, 5))],
)
def test_label_png_refuses_anything_but_a_uint16_label_image(labels):
    with pytest.raises(CompressionError, match="H x W uint16"):
        label_png(header(), labels)


def test_overlay_jpeg_refuses_anything_but_rgb8():
    with pytest.raises(CompressionError, match="H x W x 3 uint8"):
        overlay_jpeg(header(), np.zeros((4, 5), np.uint8), quality=90)


def test_decoding_names_the_problem():
    jpeg = overlay_jpeg(header(), np.zeros((8, 8, 3), np.uint8), quality=90)
    with pytest.raises(CompressionError, match="not a 16-bit PNG label image"):
        decode_label_png(jpeg)
    broken = label_png(header(), np.ones((8, 8), np.uint16))
    broken.data = broken.data[:20]
    with pytest.raises(CompressionError, match="cannot decode 20 bytes"):
        decode_label_png(broken)
