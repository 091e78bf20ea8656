# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""COCO output: ``coco/annotations.json`` (instance segmentation, RLE masks via pycocotools) and ``coco/images/``.

Categories are the objects' labels (ids from 1, in order of first appearance); every visible
object on a kept frame is one annotation with its ``track_id`` (the object id), so the file is
also a video-instance dataset. Masks are the label image's pixels of each object (ownership
decided once, as the live node does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE (``{"size": [H, W], "counts": str}``) of an ``H x W`` bool mask."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def frame_annotations(labels: np.ndarray, objects: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """One annotation (without ids) per object of ``objects`` ((id, label)) that owns pixels in ``labels``."""
    out = []
    for object_id, label in objects:
        mask = labels == object_id
        if not mask.any():
            continue
        rle = encode_mask(mask)
        coco_rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
        out.append(
            {
                "track_id": int(object_id),
                "label": label,
                "segmentation": rle,
                "area": int(mask_utils.area(coco_rle)),
                "bbox": [float(v) for v in mask_utils.toBbox(coco_rle)],
            }
        )
    return out


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON through a temporary file, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)


class CocoWriter:
    """Images as they come; ``annotations.json`` from the run's frame records at ``finish``."""

    name = "coco"

    def __init__(self, out: Path, sequence: str, digits: int = 5) -> None:
        self.root = out / "coco"
        self.images = self.root / "images"
        self.sequence, self.digits = sequence, digits

    def file_name(self, index: int) -> str:
        return f"{self.sequence}_{index:0{self.digits}d}.jpg"

    def open(self) -> None:
        self.images.mkdir(parents=True, exist_ok=True)

    def add_frame(self, index: int, jpeg: bytes, labels: np.ndarray, objects: list[tuple[int, str]]) -> list[dict]:
        """Write the image; return the frame's annotations for its record."""
        (self.images / self.file_name(index)).write_bytes(jpeg)
        return frame_annotations(labels, objects)

    def forget(self, index: int) -> None:
        (self.images / self.file_name(index)).unlink(missing_ok=True)

    def finish(self, records: list[dict], categories: list[str], info: dict[str, Any]) -> str:
        """Write ``annotations.json`` for the kept frames of ``records``; returns a one-line summary."""
        category_id = {name: i + 1 for i, name in enumerate(categories)}
        images, annotations = [], []
        for record in records:
            if not record.get("kept"):
                continue
            image_id = len(images) + 1
            images.append(
                {
                    "id": image_id,
                    "file_name": self.file_name(record["index"]),
                    "width": record["width"],
                    "height": record["height"],
                    "frame_index": record["index"],
                    "stamp": record["stamp_ns"] / 1e9,
                    "sequence": self.sequence,
                }
            )
            for ann in record.get("coco", []):
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": category_id[ann["label"]],
                        "segmentation": ann["segmentation"],
                        "area": ann["area"],
                        "bbox": ann["bbox"],
                        "iscrowd": 0,
                        "track_id": ann["track_id"],
                    }
                )
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(
            self.root / "annotations.json",
            {
                "info": info,
                "licenses": [],
                "images": images,
                "categories": [{"id": category_id[n], "name": n, "supercategory": ""} for n in categories],
                "annotations": annotations,
            },
        )
        return f"{self.root / 'annotations.json'} ({len(images)} images, {len(annotations)} annotations)"
