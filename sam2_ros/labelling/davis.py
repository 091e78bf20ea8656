# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DAVIS output: ``davis/JPEGImages/<name>/%05d.jpg`` and ``davis/Annotations/<name>/%05d.png`` (indexed PNG).

The annotation PNGs are palette images (colour type 3, the DAVIS / PASCAL VOC palette) with
pixel value = object id (0 background), written here with zlib, no imaging library needed.
``sam2_core.train --data`` and ``sam2_core.evaluate --data`` read the folder as it is.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from sam2_core.training.data import _voc_palette

MAX_DAVIS_ID = 254  # 8-bit indices; 255 means "ignore" in DAVIS annotations

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_index_png(indices: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """An 8-bit palette PNG of ``H x W`` uint8 ``indices`` (palette: ``256 x 3`` uint8, default DAVIS's)."""
    if indices.ndim != 2 or indices.dtype != np.uint8:
        raise ValueError(f"indices must be H x W uint8, got {indices.shape} {indices.dtype}")
    palette = _voc_palette() if palette is None else palette
    height, width = indices.shape
    rows = np.zeros((height, width + 1), np.uint8)  # each row: filter type 0 (none), then its pixels
    rows[:, 1:] = indices
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8 bits, palette, deflate, no interlace
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes()),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        )
    )


class DavisWriter:
    """One DAVIS sequence: a JPEG and an annotation PNG per kept frame, named by the frame's index."""

    name = "davis"

    def __init__(self, out: Path, sequence: str, digits: int = 5) -> None:
        self.images = out / "davis" / "JPEGImages" / sequence
        self.annotations = out / "davis" / "Annotations" / sequence
        self.digits = digits

    def stem(self, index: int) -> str:
        return f"{index:0{self.digits}d}"

    def open(self) -> None:
        self.images.mkdir(parents=True, exist_ok=True)
        self.annotations.mkdir(parents=True, exist_ok=True)

    def add_frame(self, index: int, jpeg: bytes, labels: np.ndarray) -> None:
        """Frame ``index``'s JPEG bytes and its ``H x W`` label image (ids <= MAX_DAVIS_ID)."""
        stem = self.stem(index)
        (self.images / f"{stem}.jpg").write_bytes(jpeg)
        (self.annotations / f"{stem}.png").write_bytes(encode_index_png(labels.astype(np.uint8)))

    def forget(self, index: int) -> None:
        stem = self.stem(index)
        for path in (self.images / f"{stem}.jpg", self.annotations / f"{stem}.png"):
            path.unlink(missing_ok=True)

    def finish(self, records: list[dict], categories: list[str], info: dict) -> str:
        kept = sum(1 for r in records if r.get("kept"))
        return f"{self.images.parent.parent} (sequence {self.images.name}: {kept} frames)"
