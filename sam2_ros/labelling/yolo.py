# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""YOLO output (ultralytics segmentation): ``yolo/images/``, ``yolo/labels/*.txt`` and ``yolo/data.yaml``.

Each label line is ``class x1 y1 x2 y2 ...``: one outer contour of an object (the label image's
boundary, simplified as the node's contours are), coordinates divided by the image's width and
height. An object in several pieces (e.g. split by an occluder) gives one line per piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from sam2_ros.outputs import ObjectGeometry


def polygon_lines(geometries: Sequence[ObjectGeometry], classes: dict[int, int], width: int, height: int) -> list[str]:
    """The label file's lines for one image; ``classes`` maps object id -> class index."""
    lines = []
    for g in geometries:
        if g.area == 0 or g.object_id not in classes:
            continue
        for contour in g.contours:
            if len(contour) < 3:  # a line or a point encloses nothing
                continue
            coords = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in contour.tolist())
            lines.append(f"{classes[g.object_id]} {coords}")
    return lines


class YoloWriter:
    """Images and label files as they come; ``data.yaml`` (class names) at ``finish``."""

    name = "yolo"

    def __init__(self, out: Path, sequence: str, digits: int = 5) -> None:
        self.root = out / "yolo"
        self.sequence, self.digits = sequence, digits

    def stem(self, index: int) -> str:
        return f"{self.sequence}_{index:0{self.digits}d}"

    def open(self) -> None:
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        (self.root / "labels").mkdir(parents=True, exist_ok=True)

    def add_frame(
        self,
        index: int,
        jpeg: bytes,
        geometries: Sequence[ObjectGeometry],
        classes: dict[int, int],
        width: int,
        height: int,
    ) -> None:
        stem = self.stem(index)
        (self.root / "images" / f"{stem}.jpg").write_bytes(jpeg)
        lines = polygon_lines(geometries, classes, width, height)
        (self.root / "labels" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))

    def forget(self, index: int) -> None:
        stem = self.stem(index)
        (self.root / "images" / f"{stem}.jpg").unlink(missing_ok=True)
        (self.root / "labels" / f"{stem}.txt").unlink(missing_ok=True)

    def finish(self, records: list[dict], categories: list[str], info: dict) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        text = (
            "# ultralytics segmentation dataset written by python -m sam2_ros.label; no `path:` key, so\n"
            "# ultralytics takes this file's folder as the root (split images/ into train and val as you like)\n"
            + yaml.safe_dump(
                {"train": "images", "val": "images", "nc": len(categories), "names": dict(enumerate(categories))},
                sort_keys=False,
            )
        )
        tmp = self.root / "data.yaml.tmp"
        tmp.write_text(text)
        tmp.replace(self.root / "data.yaml")
        kept = sum(1 for r in records if r.get("kept"))
        return f"{self.root / 'data.yaml'} ({kept} images, {len(categories)} classes)"
