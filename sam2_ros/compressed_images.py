# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Compressed siblings of the image outputs, as compressed_image_transport writes them: 16-bit PNG labels, JPEG overlay.

Pure functions (no rclpy; message types only). The ``format`` strings follow the plugin's
convention, "<raw encoding>; <codec> compressed[ <colour order of the data>]", so
image_transport's ``compressed`` subscriber, ``republish``, rqt_image_view and Foxglove decode
them: a mono image gets no colour suffix, a colour JPEG is stored BGR ("bgr8"). (The plugin
itself appends a space after "compressed" even with no suffix; its subscriber only looks at
the text before the ";" and for "compressed bgr", so the format here ends at "compressed".)
"""

from __future__ import annotations

import array
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage

LABEL_FORMAT = "mono16; png compressed"
OVERLAY_FORMAT = "rgb8; jpeg compressed bgr8"
PNG_LEVEL = 3  # compressed_image_transport's default png_level; any level is lossless


class CompressionError(ValueError):
    """An image that cannot be compressed (wrong shape or type) or compressed data that cannot be decoded."""


def _message(header: Any, fmt: str, encoded: np.ndarray) -> CompressedImage:
    msg = CompressedImage(format=fmt)
    msg.header = header
    msg.data = array.array("B", encoded.tobytes())
    return msg


def label_png(header: Any, labels: np.ndarray, *, level: int = PNG_LEVEL) -> CompressedImage:
    """``~/label_image/compressed``: the H x W uint16 label image as a lossless 16-bit grey PNG."""
    if labels.ndim != 2 or labels.dtype != np.uint16 or labels.size == 0:
        raise CompressionError(f"the label image must be non-empty H x W uint16, got {labels.shape} {labels.dtype}")
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(labels), [cv2.IMWRITE_PNG_COMPRESSION, int(level)])
    if not ok:
        raise CompressionError("OpenCV could not encode the label image as PNG")
    return _message(header, LABEL_FORMAT, encoded)


def overlay_jpeg(header: Any, rgb: np.ndarray, *, quality: int) -> CompressedImage:
    """``~/overlay/compressed``: the H x W x 3 uint8 RGB overlay as a JPEG of ``quality`` (1..100)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.size == 0:
        raise CompressionError(f"the overlay must be a non-empty H x W x 3 uint8 array, got {rgb.shape} {rgb.dtype}")
    bgr = np.ascontiguousarray(rgb[..., ::-1])  # JPEG files hold BGR in OpenCV's convention
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise CompressionError("OpenCV could not encode the overlay as JPEG")
    return _message(header, OVERLAY_FORMAT, encoded)


def _decode(msg: Any, flag: int) -> np.ndarray:
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    image = cv2.imdecode(buffer, flag) if buffer.size else None
    if image is None:
        raise CompressionError(f"cannot decode {buffer.size} bytes of compressed image (format '{msg.format}')")
    return image


def decode_label_png(msg: Any) -> np.ndarray:
    """The H x W uint16 label image back from ``~/label_image/compressed`` (what a reader does)."""
    if not str(msg.format).startswith("mono16; png"):
        raise CompressionError(f"not a 16-bit PNG label image: format '{msg.format}'")
    labels = _decode(msg, cv2.IMREAD_UNCHANGED)
    if labels.ndim != 2 or labels.dtype != np.uint16:
        raise CompressionError(f"the PNG holds {labels.shape} {labels.dtype}, not an H x W uint16 label image")
    return labels


def decode_overlay_jpeg(msg: Any) -> np.ndarray:
    """The H x W x 3 uint8 RGB overlay back from ``~/overlay/compressed``."""
    return np.ascontiguousarray(_decode(msg, cv2.IMREAD_COLOR)[..., ::-1])
