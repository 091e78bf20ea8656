# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the node publishes, built from a tracker result: label image, objects, overlay and markers.

Pure functions (no rclpy; message types only), tested on hand-made masks. Ownership of a
pixel is decided once, in the label image (the object with the highest logit wins where
masks overlap), and every other output is derived from it, so areas, boxes, contours and
the overlay agree with what a planner reads from the label image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from sam2_ros.image_conversion import fill_image

# The message builders need ROS's message types; label_image, object_geometries and
# overlay_image do not, so the label tool (python -m sam2_ros.label) runs where only
# `pip install` was done (no ROS, no generated sam2_ros.msg).
try:
    from geometry_msgs.msg import Point, Point32, Polygon
    from sensor_msgs.msg import Image
    from std_msgs.msg import ColorRGBA
    from visualization_msgs.msg import Marker, MarkerArray

    from sam2_ros.msg import TrackedObject, TrackedObjectArray
except ImportError:  # the builders below then fail; the pure functions work
    pass

# 20 well-separated colours (RGB); object id i gets PALETTE[i % 20].
PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
        (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
        (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
    ],
    dtype=np.uint8,
)  # fmt: skip


def colour_for_id(object_id: int) -> tuple[int, int, int]:
    """The RGB colour used for an object in the overlay and the markers."""
    r, g, b = PALETTE[object_id % len(PALETTE)]
    return int(r), int(g), int(b)


def to_numpy(values: Any) -> np.ndarray:
    """A torch tensor (any device, any float type) or array-like as a numpy array."""
    if hasattr(values, "detach"):
        values = values.detach()
        return (values.float() if values.is_floating_point() else values).cpu().numpy()
    return np.asarray(values)


def label_image(masks: Any, mask_logits: Any, obj_ids: Sequence[int], object_scores: Any = None) -> np.ndarray:
    """H x W uint16 label image: 0 = background, else the id of the object owning the pixel.

    masks: N x H x W bool; mask_logits: N x H x W; object_scores: N logits or None. Torch
    tensors are reduced on their own device so only the H x W result is copied to the host.
    Where masks overlap the object with the highest logit wins; objects whose score says
    "absent" (<= 0) own no pixel.
    """
    if hasattr(masks, "detach"):
        import torch

        if masks.shape[0] == 0:
            return np.zeros(tuple(masks.shape[1:]), dtype=np.uint16)
        present = masks.bool()
        if object_scores is not None:
            present = present & (object_scores.reshape(-1, 1, 1) > 0)
        ranked = mask_logits.float().masked_fill(~present, float("-inf"))
        ids = torch.as_tensor(list(obj_ids), dtype=torch.int32, device=masks.device)
        owner = torch.where(
            present.any(0), ids[ranked.argmax(0)], torch.zeros((), dtype=torch.int32, device=masks.device)
        )
        return owner.cpu().numpy().astype(np.uint16)
    masks = np.asarray(masks, dtype=bool)
    if masks.shape[0] == 0:
        return np.zeros(masks.shape[1:], dtype=np.uint16)
    present = masks
    if object_scores is not None:
        present = present & (np.asarray(object_scores).reshape(-1, 1, 1) > 0)
    ranked = np.where(present, np.asarray(mask_logits, dtype=np.float32), -np.inf)
    ids = np.asarray(obj_ids, dtype=np.uint16)
    return np.where(present.any(0), ids[ranked.argmax(0)], 0).astype(np.uint16)


@dataclass
class ObjectGeometry:
    """One object's region in the label image (pixels; x right, y down).

    bbox: (x_min, y_min, x_max, y_max) with x_max, y_max one past the last pixel (zeros when
    empty); centroid: mean pixel position; contours: outer boundaries, each K x 2 int32, largest first.
    """

    object_id: int
    area: int = 0
    bbox: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    centroid: tuple[float, float] = (0.0, 0.0)
    contours: list[np.ndarray] = field(default_factory=list)


def object_geometry(
    labels: np.ndarray, object_id: int, epsilon_px: float = 1.0, box: tuple[int, int, int, int] | None = None
) -> ObjectGeometry:
    """Area, box, centroid and simplified outer contours (Douglas-Peucker, ``epsilon_px``) of one id.

    ``box`` (y0, y1, x0, x1), end exclusive: a box known to hold every pixel of the id; only that part
    of the image is read (with a one-pixel margin), with the same results as the whole image.
    """
    x_off = y_off = 0
    if box is not None:
        height, width = labels.shape
        y_off, x_off = max(box[0] - 1, 0), max(box[2] - 1, 0)
        labels = labels[y_off : min(box[1] + 1, height), x_off : min(box[3] + 1, width)]
    region = (labels == object_id).view(np.uint8)
    moments = cv2.moments(region, binaryImage=True)
    area = int(round(moments["m00"]))
    if area == 0:
        return ObjectGeometry(object_id)
    x, y, w, h = cv2.boundingRect(region)
    x, y = x + x_off, y + y_off
    found, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(x_off, y_off))
    if epsilon_px > 0:
        found = [cv2.approxPolyDP(c, epsilon_px, True) for c in found]
    found = sorted(found, key=lambda c: -cv2.contourArea(c))
    # first moments of the whole image: integer sums, exact in float64 either way
    m10 = moments["m10"] + x_off * moments["m00"]
    m01 = moments["m01"] + y_off * moments["m00"]
    return ObjectGeometry(
        object_id,
        area=area,
        bbox=(float(x), float(y), float(x + w), float(y + h)),
        centroid=(m10 / moments["m00"], m01 / moments["m00"]),
        contours=[c.reshape(-1, 2).astype(np.int32) for c in found],
    )


def object_geometries(
    labels: np.ndarray,
    obj_ids: Sequence[int],
    epsilon_px: float = 1.0,
    regions: Mapping[int, tuple[int, int, int, int]] | None = None,
) -> list[ObjectGeometry]:
    """object_geometry for each id, in the given order; ids absent from the image get empty geometry.

    ``regions`` (from ``frame_labels``): per id a box holding all its pixels; an id without one owns
    nothing. Without it the whole image is searched.
    """
    if regions is not None:
        return [
            object_geometry(labels, i, epsilon_px, regions[i]) if i in regions else ObjectGeometry(i) for i in obj_ids
        ]
    counts = np.bincount(labels.ravel(), minlength=int(max(obj_ids, default=0)) + 1)
    return [object_geometry(labels, i, epsilon_px) if counts[i] > 0 else ObjectGeometry(i) for i in obj_ids]


def frame_labels(result: Any) -> tuple[np.ndarray, dict[int, tuple[int, int, int, int]] | None]:
    """The H x W uint16 label image of a tracker result, and per id a box holding its pixels (or None).

    A ``sam2_core.TrackResult`` decides ownership from its low-resolution logits and copies one H x W
    image (``TrackResult.label_image``); any other result with ``masks``, ``mask_logits`` and
    ``object_scores`` goes through ``label_image``. Both give the same image.
    """
    lean = getattr(result, "label_image", None)
    if callable(lean):
        owned = lean()
        return owned.labels.cpu().numpy().astype(np.uint16), owned.regions
    ids = [int(i) for i in result.obj_ids]
    return label_image(result.masks, result.mask_logits, ids, result.object_scores), None


def presence_probability(score_logit: float) -> float:
    """Sigmoid of the object-score logit, computed without overflow."""
    if score_logit >= 0:
        return 1.0 / (1.0 + math.exp(-score_logit))
    e = math.exp(score_logit)
    return e / (1.0 + e)


def tracked_object(geometry: ObjectGeometry, *, label: str, score_logit: float) -> TrackedObject:
    """A TrackedObject message; visible when the model says present and the object owns pixels."""
    visible = score_logit > 0 and geometry.area > 0
    msg = TrackedObject(id=int(geometry.object_id), label=label, score=presence_probability(score_logit))
    msg.visible = bool(visible)
    if visible:
        msg.bbox = np.array(geometry.bbox, dtype=np.float32)
        msg.area = int(geometry.area)
        msg.centroid = Point(x=float(geometry.centroid[0]), y=float(geometry.centroid[1]), z=0.0)
        msg.contours = [
            Polygon(points=[Point32(x=float(px), y=float(py), z=0.0) for px, py in contour])
            for contour in geometry.contours
        ]
    return msg


def tracked_object_array(
    header: Any, geometries: Sequence[ObjectGeometry], names: Mapping[int, str], score_logits: Sequence[float]
) -> TrackedObjectArray:
    """All objects of one frame, in tracker order, with the input image's header."""
    objects = [
        tracked_object(g, label=names.get(g.object_id, ""), score_logit=float(s))
        for g, s in zip(geometries, score_logits)
    ]
    return TrackedObjectArray(header=header, objects=objects)


def image_msg(header: Any, pixels: np.ndarray, encoding: str) -> Image:
    """An Image message with the given header (copied from the input) and pixels."""
    return fill_image(Image(header=header), pixels, encoding)


def overlay_image(
    rgb: np.ndarray,
    labels: np.ndarray,
    geometries: Sequence[ObjectGeometry],
    names: Mapping[int, str],
    *,
    alpha: float = 0.5,
) -> np.ndarray:
    """H x W x 3 uint8 RGB: the frame with each object tinted, outlined and captioned "id label"."""
    out = np.array(rgb, dtype=np.uint8, order="C", copy=True)
    owned = labels > 0
    if alpha > 0 and owned.any():
        tint = PALETTE[labels[owned] % len(PALETTE)].astype(np.float32)
        out[owned] = np.rint(out[owned] * (1.0 - alpha) + tint * alpha).astype(np.uint8)
    height, width = labels.shape
    font_scale = max(0.4, min(width, height) / 800.0)
    thickness = max(1, int(round(min(width, height) / 400.0)))
    for g in geometries:
        if g.area == 0:
            continue
        colour = colour_for_id(g.object_id)
        cv2.drawContours(out, [c.reshape(-1, 1, 2) for c in g.contours], -1, colour, thickness + 1)
        caption = f"{g.object_id} {names.get(g.object_id, '')}".strip()
        origin = (int(g.bbox[0]), max(int(g.bbox[1]) - 4, int(14 * font_scale)))
        cv2.putText(out, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(out, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, thickness, cv2.LINE_AA)
    return out


def pinhole_intrinsics(width: int, height: int, camera_info: Any | None = None) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) for an image of width x height: camera_info's K scaled to that size.

    Without a usable camera_info, a nominal camera (focal length = the larger side) stands in
    so markers still show the contours' shapes.
    """
    if camera_info is not None:
        k = np.asarray(camera_info.k, dtype=np.float64).reshape(3, 3)
        if k[0, 0] > 0 and k[1, 1] > 0 and camera_info.width > 0 and camera_info.height > 0:
            sx, sy = width / camera_info.width, height / camera_info.height
            return k[0, 0] * sx, k[1, 1] * sy, k[0, 2] * sx, k[1, 2] * sy
    focal = float(max(width, height))
    return focal, focal, width / 2.0, height / 2.0


def contour_markers(
    header: Any,
    geometries: Sequence[ObjectGeometry],
    names: Mapping[int, str],
    intrinsics: tuple[float, float, float, float],
    *,
    depth_m: float = 1.0,
) -> MarkerArray:
    """Contours as LINE_STRIPs on a plane ``depth_m`` in front of the camera, plus an "id label" text.

    Pixels are back-projected with the pinhole ``intrinsics`` (fx, fy, cx, cy) in the image's
    optical frame, so in RViz the outlines line up with the camera image. The array starts
    with a DELETEALL so objects that disappear leave no stale marker.
    """
    fx, fy, cx, cy = intrinsics

    def lift(u: float, v: float) -> Point:
        return Point(x=(u - cx) / fx * depth_m, y=(v - cy) / fy * depth_m, z=depth_m)

    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for g in geometries:
        if g.area == 0:
            continue
        r, gr, b = colour_for_id(g.object_id)
        colour = ColorRGBA(r=r / 255.0, g=gr / 255.0, b=b / 255.0, a=1.0)
        for k, contour in enumerate(g.contours[:1000]):
            if len(contour) < 2:
                continue
            m = Marker(header=header, ns="sam2_contours", id=g.object_id * 1000 + k, type=Marker.LINE_STRIP)
            m.action = Marker.ADD
            m.pose.orientation.w = 1.0
            m.scale.x = 0.004 * depth_m
            m.color = colour
            m.points = [lift(float(u), float(v)) for u, v in contour] + [
                lift(float(contour[0][0]), float(contour[0][1]))
            ]
            markers.append(m)
        text = Marker(header=header, ns="sam2_labels", id=g.object_id, type=Marker.TEXT_VIEW_FACING)
        text.action = Marker.ADD
        text.pose.position = lift(*g.centroid)
        text.pose.orientation.w = 1.0
        text.scale.z = 0.05 * depth_m
        text.color = colour
        text.text = f"{g.object_id} {names.get(g.object_id, '')}".strip()
        markers.append(text)
    return MarkerArray(markers=markers)
