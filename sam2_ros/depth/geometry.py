# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Masks to 3-D: depth images decoded and aligned, object regions eroded, back-projected, summarised.

Pure numpy / OpenCV (no rclpy): messages are read through their fields only, so everything
here is tested with plain namespaces. Conventions: pixel (u, v) is column u, row v, with
pixel centres on integer coordinates; points are in the image's optical frame (x right,
y down, z forward), in metres; depth is z (REP 118: 16-bit integers in units of
``scale_m``, millimetres by default, or 32-bit floats in metres; 0, NaN and +/-Inf mean
"no reading").
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# encoding -> element type; the integer ones are in units of depth_scale_m, 32FC1 in metres
DEPTH_ENCODINGS: dict[str, np.dtype] = {
    "16UC1": np.dtype(np.uint16),
    "mono16": np.dtype(np.uint16),
    "32FC1": np.dtype(np.float32),
}
# A point belongs to the object when its depth is within this band of the object's median depth:
# max(BAND_SIGMAS robust standard deviations (1.4826 MAD), BAND_MIN_RELATIVE * median + BAND_MIN_M).
BAND_SIGMAS = 3.0
BAND_MIN_RELATIVE = 0.02
BAND_MIN_M = 0.01
EXTENT_PERCENTILES = (1.0, 99.0)  # size = the spread of the object's points between these percentiles


class DepthError(ValueError):
    """A depth image or calibration that cannot give 3-D; ``reason`` is a short key (for throttled logs)."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


@dataclass
class DepthImage:
    """A decoded depth image: Hd x Wd float32 metres, NaN where there is no valid depth.

    valid: pixels with a depth; negative: pixels with a negative finite value (not depth in any
    convention: a wrong encoding or scale), which count as no reading.
    """

    metres: np.ndarray
    valid: int
    negative: int


def depth_to_array(msg: Any) -> np.ndarray:
    """A view of a depth Image message's values in its own element type (H x W; shares its memory).

    Raises DepthError naming the problem: an encoding other than 16UC1, mono16 or 32FC1 ("encoding"),
    zero size, ``step`` or ``data`` too small for the size ("layout").
    """
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise DepthError(
            "encoding",
            f"unsupported depth encoding '{encoding}' (supported: 16UC1 and mono16 in units of depth_scale_m,"
            " 32FC1 in metres)",
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    element = DEPTH_ENCODINGS[encoding]
    if height <= 0 or width <= 0:
        raise DepthError("layout", f"depth image has zero size ({width} x {height})")
    if step < width * element.itemsize:
        raise DepthError(
            "layout", f"depth image step {step} is smaller than width * bytes per pixel = {width} * {element.itemsize}"
        )
    try:
        buffer = np.frombuffer(msg.data, dtype=np.uint8)
    except TypeError:  # a plain list of ints (hand-built messages)
        buffer = np.asarray(msg.data, dtype=np.uint8)
    if buffer.size < step * height:
        raise DepthError(
            "layout", f"depth image data has {buffer.size} bytes, fewer than step * height = {step} * {height}"
        )
    element = element.newbyteorder(">" if msg.is_bigendian else "<")
    return np.ndarray((height, width), dtype=element, buffer=buffer, strides=(step, element.itemsize))


def decode_depth(msg: Any, scale_m: float = 0.001) -> DepthImage:
    """The depth in metres of a 16UC1 / mono16 (``value * scale_m``) or 32FC1 (metres) Image message.

    Raises DepthError for an unreadable message (see depth_to_array) and, with reason "no_valid",
    when no pixel holds a valid depth (all zero, NaN, infinite or negative).
    """
    raw = depth_to_array(msg)
    if raw.dtype.kind == "u":
        metres = raw.astype(np.float32) * np.float32(scale_m)
        metres[raw == 0] = np.nan
        negative = 0
    else:
        metres = raw.astype(np.float32)  # native byte order, a copy the caller may change
        with np.errstate(invalid="ignore"):
            negative = int(np.count_nonzero(np.isfinite(metres) & (metres < 0)))
            metres[~(np.isfinite(metres) & (metres > 0))] = np.nan
    valid = int(np.count_nonzero(~np.isnan(metres)))
    if valid == 0:
        raise DepthError(
            "no_valid",
            f"depth image ({raw.shape[1]} x {raw.shape[0]}, {msg.encoding}) has no valid depth: every pixel is zero,"
            " NaN, infinite or negative",
        )
    return DepthImage(metres, valid, negative)


def fill_depth_image(msg: Any, metres: np.ndarray, encoding: str = "16UC1", scale_m: float = 0.001) -> Any:
    """Write H x W depth in metres (NaN = no reading) into an Image message's fields; returns ``msg``.

    16UC1 / mono16 hold ``round(metres / scale_m)`` (0 for no reading, saturating at 65535);
    32FC1 holds metres (NaN for no reading). Little-endian rows, no padding.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding must be one of {', '.join(DEPTH_ENCODINGS)}, got '{encoding}'")
    metres = np.asarray(metres, dtype=np.float64)
    if DEPTH_ENCODINGS[encoding].kind == "u":
        units = np.rint(np.nan_to_num(metres / scale_m, nan=0.0, posinf=0.0, neginf=0.0))
        values = np.clip(units, 0, 65535).astype("<u2")
    else:
        values = metres.astype("<f4")
    msg.height, msg.width = int(values.shape[0]), int(values.shape[1])
    msg.encoding, msg.is_bigendian = encoding, 0
    msg.step = int(values.shape[1] * values.itemsize)
    msg.data = array.array("B", values.tobytes())
    return msg


def alignment_indices(depth_size: tuple[int, int], colour_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour (rows, cols) that take a depth image of ``(width, height)`` to the colour image's.

    Pixel centres are matched (colour pixel i covers depth pixel floor((i + 0.5) * d / c)), so no
    depth is interpolated across an object's edge. The aspect ratios must agree to within one
    pixel of the colour image; otherwise DepthError ("aspect"): the depth is not aligned to colour.
    """
    (dw, dh), (cw, ch) = depth_size, colour_size
    if abs(dw * ch / dh - cw) > 1.0 or abs(dh * cw / dw - ch) > 1.0:
        raise DepthError(
            "aspect",
            f"depth image is {dw} x {dh} but the colour image is {cw} x {ch}: another aspect ratio, so it is not"
            " aligned to colour (use the camera's depth aligned to colour, e.g. aligned_depth_to_color/image_raw)",
        )
    rows = np.minimum(((np.arange(ch) + 0.5) * (dh / ch)).astype(np.int64), dh - 1)
    cols = np.minimum(((np.arange(cw) + 0.5) * (dw / cw)).astype(np.int64), dw - 1)
    return rows, cols


@dataclass
class AlignedDepth:
    """A depth image read in colour-image pixels (nearest neighbour when the sizes differ)."""

    metres: np.ndarray  # Hd x Wd float32, NaN = no reading
    rows: np.ndarray | None = None  # colour row -> depth row (None: same size)
    cols: np.ndarray | None = None

    @classmethod
    def of(cls, depth: DepthImage, colour_width: int, colour_height: int) -> AlignedDepth:
        dh, dw = depth.metres.shape
        if (dw, dh) == (colour_width, colour_height):
            return cls(depth.metres)
        rows, cols = alignment_indices((dw, dh), (colour_width, colour_height))
        return cls(depth.metres, rows, cols)

    def at(self, vs: np.ndarray, us: np.ndarray) -> np.ndarray:
        """Depths (metres, NaN = none) at colour pixels (vs, us)."""
        if self.rows is None:
            return self.metres[vs, us]
        return self.metres[self.rows[vs], self.cols[us]]


def intrinsics_for(camera_info: Any, width: int, height: int) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) of an image of ``width x height`` from camera_info's K (scaled to that size).

    Scaling keeps pixel centres: c' = (c + 0.5) * s - 0.5. DepthError ("camera_info") when there is
    no camera_info, its fx, fy or size is zero or negative, or fx, fy, cx or cy is NaN or infinite.
    """
    if camera_info is None:
        raise DepthError("camera_info", "no camera_info received yet: 3-D positions need its intrinsics (K)")
    k = np.asarray(camera_info.k, dtype=np.float64).reshape(3, 3)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    finite = bool(np.isfinite([fx, fy, cx, cy]).all())
    if not (finite and fx > 0 and fy > 0 and camera_info.width > 0 and camera_info.height > 0):
        raise DepthError(
            "camera_info",
            f"camera_info has no usable intrinsics (K fx = {fx:g}, fy = {fy:g}, cx = {cx:g}, cy = {cy:g}, size"
            f" {camera_info.width} x {camera_info.height}): 3-D positions need them",
        )
    sx, sy = width / camera_info.width, height / camera_info.height
    return k[0, 0] * sx, k[1, 1] * sy, (k[0, 2] + 0.5) * sx - 0.5, (k[1, 2] + 0.5) * sy - 0.5


def back_project(
    us: np.ndarray, vs: np.ndarray, z: np.ndarray, intrinsics: tuple[float, float, float, float]
) -> np.ndarray:
    """N x 3 float64 points (x, y, z) of pixels (us, vs) at depths z with pinhole (fx, fy, cx, cy)."""
    fx, fy, cx, cy = intrinsics
    z = np.asarray(z, dtype=np.float64)
    return np.stack([(np.asarray(us) - cx) / fx * z, (np.asarray(vs) - cy) / fy * z, z], axis=1)


def object_region(labels: np.ndarray, object_id: int, erosion_px: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vs, us, core) of the pixels ``object_id`` owns in the H x W label image.

    core (bool, one per pixel) marks the region eroded by ``erosion_px`` (a disc of that radius):
    the pixels away from the object's boundary, where depth often belongs to the background. The
    image border does not erode. When erosion would leave nothing (a thin or small object), every
    pixel is core.
    """
    region = (labels == object_id).view(np.uint8)
    x, y, w, h = cv2.boundingRect(region)
    if w == 0 or h == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=bool)
    roi = region[y : y + h, x : x + w]
    vs, us = np.nonzero(roi)
    core = np.ones(vs.size, dtype=bool)
    if erosion_px > 0:
        side = 2 * int(erosion_px) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
        # erode a window a little larger than the box (its pixels beyond the box are not the object's);
        # beyond the image the border value keeps the object whole
        pad = int(erosion_px)
        y0, x0 = max(y - pad, 0), max(x - pad, 0)
        window = np.ascontiguousarray(region[y0 : y + h + pad, x0 : x + w + pad])
        eroded = cv2.erode(window, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
        inner = eroded[vs + (y - y0), us + (x - x0)].astype(bool)
        if inner.any():
            core = inner
    return vs + y, us + x, core


def subsample(count: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``count`` items, evenly spread (all when there are fewer)."""
    if max_points <= 0:
        return np.zeros(0, dtype=np.int64)
    if count <= max_points:
        return np.arange(count)
    return np.linspace(0, count - 1, max_points).round().astype(np.int64)


@dataclass
class Object3D:
    """One object's 3-D summary in the image's optical frame (metres).

    position: robust centre (z: median depth of the points; x, y: their mean; see measure_object),
    None without valid depth; size: extent along x, y, z between the
    EXTENT_PERCENTILES of those points; depth_points: how many points (valid depth pixels) were
    used; points: M x 3 float32, at most max_points of them, with their colour pixels (vs, us).
    """

    object_id: int
    position: np.ndarray | None = None
    size: np.ndarray = field(default_factory=lambda: np.zeros(3))
    depth_points: int = 0
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    pixels: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0, np.int64))
    )

    @property
    def has_position(self) -> bool:
        return self.position is not None


def robust_band(z: np.ndarray) -> tuple[float, float]:
    """(median, half-width) of the depth band of an object from its N valid depths (see BAND_*)."""
    median = float(np.median(z))
    mad = float(np.median(np.abs(z - median)))
    return median, max(BAND_SIGMAS * 1.4826 * mad, BAND_MIN_RELATIVE * median + BAND_MIN_M)


def measure_object(
    labels: np.ndarray,
    object_id: int,
    depth: AlignedDepth,
    intrinsics: tuple[float, float, float, float],
    *,
    erosion_px: int = 2,
    max_points: int = 0,
) -> Object3D:
    """The 3-D summary of ``object_id`` from the H x W label image and a depth image aligned to it.

    The object's depth is the median of the valid depths of its eroded region (object_region),
    away from its boundary; its points are the pixels of its whole region whose depth lies in the
    band around that median (robust_band), so background seen at the edges, holes and stray
    readings do not count, while the parts of the object at its edges do.
    """
    vs, us, core = object_region(labels, object_id, erosion_px)
    z = depth.at(vs, us)
    valid = ~np.isnan(z)
    if not (valid & core).any():
        core = valid  # no valid depth inside: the edges are all there is
    if not valid.any():
        return Object3D(object_id)
    median, band = robust_band(z[valid & core])
    keep = valid & (np.abs(z - median) <= band)
    vs, us, z = vs[keep], us[keep], z[keep]
    points = back_project(us, vs, z, intrinsics)
    position = np.array([points[:, 0].mean(), points[:, 1].mean(), float(np.median(points[:, 2]))])
    low, high = np.percentile(points, EXTENT_PERCENTILES, axis=0)
    chosen = subsample(len(points), max_points)
    return Object3D(
        object_id,
        position=position,
        size=high - low,
        depth_points=int(len(points)),
        points=points[chosen].astype(np.float32),
        pixels=(vs[chosen], us[chosen]),
    )
