# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_ros.label``: label a bag, video or image folder into COCO, DAVIS, YOLO and an annotated bag.

Needs no running ROS graph and no ROS install (bags are read and written with rosbags). Exit
status: 0 done (or stopped by --max-frames), 2 bad input (one line says why), 130 stopped by
Ctrl-C / SIGTERM (the datasets hold the frames done; --resume continues).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from sam2_ros.labelling.config import EXIT_BAD_INPUT, FORMATS, LabelConfig, LabelInputError


def _formats(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown format(s) {unknown or [text]}; choose from {','.join(FORMATS)}")
    return names


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"'{text}' is not auto, cpu, mps, cuda or cuda:N")
    return text


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sam2_ros.label",
        description="Track objects through a recording with SAM 2 and write training datasets "
        "(COCO, DAVIS, YOLO) and an annotated copy of a bag.",
    )
    p.add_argument(
        "source",
        help="a ROS 2 bag (folder with metadata.yaml and .db3/.mcap files, or one .mcap file), a video file "
        "or an image folder",
    )
    p.add_argument("--out", required=True, help="output folder (coco/, davis/, yolo/, bag/ and the run's state)")
    p.add_argument("--topic", help="bags: the sensor_msgs/Image or CompressedImage topic (default: the only one)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--prompts", metavar="FILE", help="YAML or JSON list of prompts (see the README)")
    what.add_argument("--auto", action="store_true", help="segment everything on the first frame and track it all")
    what.add_argument(
        "--text", metavar="PHRASES", help="comma-separated phrases to find on the first frame (needs --detector)"
    )
    p.add_argument("--detector", help="--text: the open-vocabulary detector model (name or path)")
    p.add_argument("--box-threshold", type=float, default=0.3, help="--text: detection box threshold")
    p.add_argument("--text-threshold", type=float, default=0.25, help="--text: phrase threshold")
    p.add_argument(
        "--format",
        type=_formats,
        default=(),
        help=f"comma-separated outputs from {','.join(FORMATS)} (default: all that fit the source; bag for bags only)",
    )
    p.add_argument("--every", type=_positive(int), default=1, help="keep every Nth frame (all are still tracked)")
    p.add_argument("--start", type=_non_negative, help="first second to label, from the source's first frame")
    p.add_argument("--end", type=_non_negative, help="last second to label (inclusive), from the first frame")
    p.add_argument("--model", default="sam2.1_hiera_tiny", help="registered model name (default: %(default)s)")
    p.add_argument(
        "--checkpoint",
        default="",
        help="official-format checkpoint for --model (default: the bundled sam2.1_hiera_nano, synthetic scenes only)",
    )
    p.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--image-size", type=int, default=0, metavar="PX", help="model input size (0: the model's own)")
    p.add_argument("--max-objects", type=_positive(int), default=16, help="most objects tracked at once")
    p.add_argument("--video", metavar="FILE", help="write a review video with the tracking overlay (.mp4 or .avi)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (after Ctrl-C or --max-frames)")
    p.add_argument("--name", help="sequence name in the datasets (default: the source's folder or file name)")
    p.add_argument(
        "--node-name",
        default="sam2_tracker",
        help="the annotated bag's topics are /NODE_NAME/label_image and /NODE_NAME/objects (default: %(default)s)",
    )
    p.add_argument(
        "--fps", type=_positive(float), default=10.0, help="frame rate of an image folder or of a video without one"
    )
    p.add_argument(
        "--max-frames",
        type=int,
        default=0,
        help="stop after tracking this many frames (a valid dataset; --resume continues); 0: no limit",
    )
    p.add_argument(
        "--contour-epsilon", type=float, default=1.0, help="polygon simplification in pixels (YOLO, bag objects)"
    )
    p.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: its default)")
    return p


def config_from_args(a: argparse.Namespace) -> LabelConfig:
    """LabelConfig from parsed arguments; LabelInputError for combinations argparse cannot check."""
    if not (a.prompts or a.auto or a.text):
        raise LabelInputError("say what to label: --prompts FILE, --auto or --text PHRASES")
    if a.start is not None and a.end is not None and a.end < a.start:
        raise LabelInputError(f"--end {a.end} is before --start {a.start}")
    if a.detector and not a.text:
        raise LabelInputError("--detector is for --text")
    if a.name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", a.name):
        raise LabelInputError(f"--name '{a.name}': use letters, digits, '_', '.' and '-' only (it names files)")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*", a.node_name.strip("/")):
        raise LabelInputError(f"--node-name '{a.node_name}' is not a valid ROS name (letters, digits, '_', '/')")
    phrases = [t.strip() for t in (a.text or "").split(",") if t.strip()]
    if a.text is not None and not phrases:
        raise LabelInputError("--text needs at least one phrase")
    return LabelConfig(
        source=os.path.abspath(os.path.expanduser(a.source)) if a.source else a.source,
        out=os.path.abspath(os.path.expanduser(a.out)),
        topic=a.topic,
        prompts=os.path.abspath(os.path.expanduser(a.prompts)) if a.prompts else None,
        auto=a.auto,
        text=phrases,
        detector=a.detector,
        box_threshold=a.box_threshold,
        text_threshold=a.text_threshold,
        formats=a.format,
        every=a.every,
        start=a.start,
        end=a.end,
        model=a.model,
        checkpoint=os.path.abspath(os.path.expanduser(a.checkpoint)) if a.checkpoint else "",
        device=a.device,
        dtype=a.dtype,
        image_size=a.image_size,
        max_objects=a.max_objects,
        video=a.video,
        resume=a.resume,
        name=a.name,
        node_name=a.node_name,
        fps=a.fps,
        max_frames=max(0, a.max_frames),
        contour_epsilon=a.contour_epsilon,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from sam2_ros.labelling.run import run
    except ModuleNotFoundError as error:  # a ROS install without the tool's pip packages
        print(
            f"label: error: missing Python package '{error.name}': pip install rosbags pycocotools tqdm",
            file=sys.stderr,
        )
        return 1
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    try:
        return run(config_from_args(args))
    except LabelInputError as error:
        print("label: error: " + " ".join(str(error).split()), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
