# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What one labelling run is asked to do (LabelConfig) and the error that means "bad input" (exit status 2)."""

from __future__ import annotations

from dataclasses import dataclass, field

FORMATS = ("coco", "davis", "yolo", "bag")
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class LabelInputError(ValueError):
    """Bad input (source, topic, prompts, encoding, output folder, ...): the message is the one-line reason."""


@dataclass
class LabelConfig:
    """Settings of one run of ``python -m sam2_ros.label`` (see its ``--help`` for each)."""

    source: str
    out: str
    topic: str | None = None  # bag sources: the image topic (None: the only one)
    prompts: str | None = None  # YAML / JSON prompts file
    auto: bool = False  # segment everything on the first frame
    text: list[str] = field(default_factory=list)  # phrases for the open-vocabulary detector
    detector: str | None = None  # the detector model --text uses
    box_threshold: float = 0.3
    text_threshold: float = 0.25
    formats: tuple[str, ...] = ()  # empty: every format that fits the source
    every: int = 1  # keep every Nth tracked frame in the datasets
    start: float | None = None  # seconds from the first frame
    end: float | None = None  # seconds from the first frame (inclusive)
    model: str = "sam2.1_hiera_tiny"
    checkpoint: str = ""  # empty: the bundled weights (sam2.1_hiera_nano), as the node does
    device: str = "auto"
    dtype: str = "auto"
    image_size: int = 0  # 0: the model's own
    max_objects: int = 16
    video: str | None = None  # review overlay video
    resume: bool = False
    name: str | None = None  # sequence name (DAVIS folder, file prefix); None: from the source
    node_name: str = "sam2_tracker"  # the annotated bag's topics are /<node_name>/label_image, /objects
    fps: float = 10.0  # frame rate of an image folder (and of a video that has none)
    max_frames: int = 0  # stop after tracking this many frames, as Ctrl-C would (0: no limit)
    contour_epsilon: float = 1.0  # Douglas-Peucker tolerance of the polygons (YOLO, objects), pixels
    jpeg_quality: int = 95

    def fingerprint(self) -> dict:
        """The settings a resumed run must share with the run it continues."""
        keys = (
            "source", "topic", "auto", "text", "detector", "box_threshold", "text_threshold", "formats",
            "every", "start", "end", "model", "checkpoint", "device", "dtype", "image_size", "max_objects",
            "name", "node_name", "fps", "contour_epsilon", "jpeg_quality",
        )  # fmt: skip
        values = {k: getattr(self, k) for k in keys}
        values["formats"] = list(self.formats)
        return values
