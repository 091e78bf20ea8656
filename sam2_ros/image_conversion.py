# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs/Image and CompressedImage <-> numpy without cv_bridge: validated, zero-copy views.

Works on any object with the fields of the messages (``height``, ``width``, ``encoding``,
``is_bigendian``, ``step``, ``data``; ``format`` and ``data`` for compressed images), so it
imports no rclpy and is tested with plain namespaces.
"""

from __future__ import annotations

import array
import sys
from typing import Any

import numpy as np

# encoding -> (numpy element type, channels). 8UC1/8UC3/16UC1 are the OpenCV-style
# names some drivers use for the same layouts.
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
}

# Which of the channels above are red, green, blue (a view picks them, no copy).
_RGB_CHANNELS: dict[str, tuple[int, int, int] | None] = {
    "rgb8": (0, 1, 2),
    "bgr8": (2, 1, 0),
    "8UC3": (2, 1, 0),  # OpenCV's default channel order
    "rgba8": (0, 1, 2),
    "bgra8": (2, 1, 0),
    "mono8": None,
    "8UC1": None,
    "mono16": None,
    "16UC1": None,
}


class ImageConversionError(ValueError):
    """An image message that cannot be read; the message says why."""


def _byte_buffer(data: Any) -> np.ndarray:
    """The message's ``data`` as a flat uint8 array, sharing memory when it supports the buffer protocol."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:  # a plain list of ints (hand-built messages)
        return np.asarray(data, dtype=np.uint8)


def image_to_array(msg: Any) -> np.ndarray:
    """A view of an Image message's pixels in its own encoding (shares the message's memory).

    Returns H x W x C (C = 3 or 4) or H x W (one channel) with the encoding's element type in
    the message's byte order. Rows follow ``step`` (padding is skipped, not copied).
    Raises ImageConversionError naming the problem for zero size, unknown encoding,
    ``step < width * bytes_per_pixel`` or ``len(data) < step * height``.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    encoding = str(msg.encoding)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"image has zero size ({width} x {height})")
    if encoding not in ENCODINGS:
        raise ImageConversionError(
            f"unsupported image encoding '{encoding}' (supported: {', '.join(sorted(ENCODINGS))})"
        )
    element, channels = ENCODINGS[encoding]
    pixel_bytes = element.itemsize * channels
    if step < width * pixel_bytes:
        raise ImageConversionError(
            f"image step {step} is smaller than width * bytes per pixel = {width} * {pixel_bytes}"
        )
    buffer = _byte_buffer(msg.data)
    if buffer.size < step * height:
        raise ImageConversionError(f"image data has {buffer.size} bytes, fewer than step * height = {step} * {height}")
    if element.itemsize > 1:
        element = element.newbyteorder(">" if msg.is_bigendian else "<")
    shape: tuple[int, ...] = (height, width, channels) if channels > 1 else (height, width)
    strides: tuple[int, ...] = (step, pixel_bytes, element.itemsize) if channels > 1 else (step, pixel_bytes)
    # Writable when the message's buffer is (so torch.from_numpy takes it without a copy or a
    # warning); it is the message's memory, so callers must not write to it.
    return np.ndarray(shape=shape, dtype=element, buffer=buffer, offset=0, strides=strides)


def _mono16_to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch a 16-bit image to 0..255 by its own minimum and maximum (as image viewers do)."""
    low, high = int(values.min()), int(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values.astype(np.float32) - low) * (255.0 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def image_to_rgb(msg: Any) -> np.ndarray:
    """H x W x 3 uint8 RGB from an Image message; a view of the message's memory for 8-bit encodings.

    Channel reordering (bgr8, bgra8) and grey replication (mono8) are strided views, so the
    result may be non-contiguous (and, for mono8, read-only): call ``np.ascontiguousarray`` before handing it
    to code that needs a dense array. 16-bit mono is stretched by its min/max (a copy).
    """
    pixels = image_to_array(msg)
    encoding = str(msg.encoding)
    order = _RGB_CHANNELS[encoding]
    if order == (0, 1, 2):
        return pixels[..., :3]
    if order == (2, 1, 0):
        return pixels[..., 2::-1]  # a negative-stride view, no copy
    grey = _mono16_to_uint8(pixels) if pixels.dtype.itemsize == 2 else pixels
    return np.broadcast_to(grey[..., None], (*grey.shape, 3))


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """H x W x 3 uint8 RGB decoded from a CompressedImage (jpeg or png) with OpenCV.

    Raises ImageConversionError for empty data, compressed depth images and data OpenCV
    cannot decode.
    """
    import cv2  # imported here so the raw-image path does not need OpenCV

    fmt = str(getattr(msg, "format", ""))
    if "compressedDepth" in fmt:
        raise ImageConversionError(f"compressed depth images are not supported (format '{fmt}')")
    buffer = _byte_buffer(msg.data)
    if buffer.size == 0:
        raise ImageConversionError("compressed image has no data")
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.shape[0] == 0 or bgr.shape[1] == 0:
        raise ImageConversionError(
            f"compressed image ({buffer.size} bytes, format '{fmt}') could not be decoded as jpeg or png"
        )
    return bgr[..., ::-1]


def mask_from_image(msg: Any, *, width: int, height: int) -> np.ndarray:
    """H x W bool mask (non-zero = object) from a mono8 Image of exactly width x height."""
    if str(msg.encoding) not in ("mono8", "8UC1"):
        raise ImageConversionError(f"mask encoding must be mono8, got '{msg.encoding}'")
    if int(msg.width) != width or int(msg.height) != height:
        raise ImageConversionError(f"mask is {msg.width} x {msg.height} but the image is {width} x {height}")
    return image_to_array(msg) != 0


def fill_image(msg: Any, pixels: np.ndarray, encoding: str) -> Any:
    """Write H x W (x C) ``pixels`` into an Image message's fields with ``encoding``; returns ``msg``.

    The data is stored densely (step = width * bytes per pixel) in this machine's byte order,
    as an ``array.array('B')``, which the generated message accepts without a per-byte check.
    """
    element, channels = ENCODINGS[encoding]
    expected = (channels,) if channels > 1 else ()
    if pixels.ndim != 2 + len(expected) or pixels.shape[2:] != expected or pixels.dtype != element:
        raise ValueError(
            f"{encoding} needs an H x W{' x ' + str(channels) if channels > 1 else ''} {element} array,"
            f" got {pixels.shape} {pixels.dtype}"
        )
    dense = np.ascontiguousarray(pixels)
    msg.height, msg.width = int(dense.shape[0]), int(dense.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(sys.byteorder == "big" and element.itemsize > 1)
    msg.step = int(dense.shape[1] * element.itemsize * channels)
    msg.data = array.array("B", dense.tobytes())
    return msg
