# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node's parameters: one table with defaults, descriptions, ranges and when each is read.

``config/tracker.yaml`` lists the same names and defaults (a test keeps them in step).
``when`` says when a value takes effect and so when it may change:
configure (model loading: change while unconfigured), activate (subscriptions: change
while not active), live (read on every frame or click), startup (read once; read-only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    when: str
    description: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None


DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("model", "sam2.1_hiera_tiny", "configure",
                  "Model: sam2_hiera_{tiny,small,base_plus,large} or"
                  " sam2.1_hiera_{tiny,small,base_plus,large} (or another name registered in sam2_core)."),
    ParameterSpec("checkpoint", "", "configure",
                  "Path to an official-format checkpoint (.pt) for the model; empty = the weights bundled"
                  " with sam2_core (the small sam2.1_hiera_nano, synthetic scenes only)."),
    ParameterSpec("device", "auto", "configure",
                  "auto (cuda when available, else cpu), cpu, cuda or cuda:N."),
    ParameterSpec("dtype", "auto", "configure",
                  "auto (bfloat16 on CUDA GPUs with native bfloat16, compute capability 8.0+, else float32),"
                  " float32, bfloat16, float16.",
                  choices=("auto", "float32", "bfloat16", "float16")),
    ParameterSpec("compile", False, "configure",
                  "Compile the image encoder and the per-frame step (torch.compile, static shapes, CUDA graphs"
                  " on GPUs); the warm-up then compiles every object-count bucket up to max_objects."),
    ParameterSpec("image_size", 0, "configure",
                  "Model input size in pixels (square); 0 = the model's default (1024). Smaller is faster"
                  " and coarser.", low=0, high=4096),
    ParameterSpec("max_objects", 16, "configure",
                  "Most objects tracked at once; prompts for more are rejected.", low=1, high=1024),
    ParameterSpec("non_overlap_masks", False, "configure",
                  "Let the tracker keep object masks from overlapping (the label image resolves"
                  " overlaps by logit either way)."),
    ParameterSpec("fill_hole_area", 8, "configure",
                  "Fill background holes in the masks up to this many pixels of the model's low-resolution"
                  " mask (image_size / 4 per side; 0 = off).", low=0, high=1_000_000),
    ParameterSpec("warmup", True, "activate",
                  "Run the model once on a synthetic frame when first activated, so the first real frame"
                  " is not slow."),
    ParameterSpec("image_transport", "raw", "activate",
                  "raw: subscribe to `image` (sensor_msgs/Image); compressed: subscribe to"
                  " `image/compressed` (sensor_msgs/CompressedImage, jpeg or png).",
                  choices=("raw", "compressed")),
    ParameterSpec("image_reliability", "best_effort", "activate",
                  "QoS reliability of the image and camera_info subscriptions: best_effort (matches any"
                  " publisher) or reliable.", choices=("best_effort", "reliable")),
    ParameterSpec("image_qos_depth", 1, "activate",
                  "QoS history depth of the image subscription (only the newest frame is tracked).",
                  low=1, high=100),
    ParameterSpec("diagnostics_period_s", 1.0, "activate",
                  "Period of the /diagnostics status; 0 = no diagnostics.", low=0.0, high=3600.0),
    ParameterSpec("publish_overlay", True, "live",
                  "Publish ~/overlay (rgb8 frame with masks, contours, ids and labels) when someone"
                  " subscribes."),
    ParameterSpec("publish_markers", True, "live",
                  "Publish ~/markers (contours as RViz line strips) when someone subscribes."),
    ParameterSpec("overlay_alpha", 0.5, "live",
                  "Opacity of the mask tint in ~/overlay (0 = outlines only).", low=0.0, high=1.0),
    ParameterSpec("contour_epsilon_px", 1.0, "live",
                  "Douglas-Peucker tolerance in pixels for simplifying contours (0 = every boundary pixel).",
                  low=0.0, high=1000.0),
    ParameterSpec("marker_depth_m", 1.0, "live",
                  "Distance in front of the camera at which ~/markers draws the contours (metres).",
                  low=0.001, high=1000.0),
    ParameterSpec("click_mode", "new_object", "live",
                  "new_object: each click (rqt_image_view, RViz) adds an object; refine: each click is a"
                  " foreground point for the most recently added object.", choices=("new_object", "refine")),
    ParameterSpec("rectified_image", False, "live",
                  "The subscribed image is rectified: project RViz clicks with camera_info P instead of K"
                  " and the distortion coefficients."),
    ParameterSpec("max_prompt_age_s", 10.0, "live",
                  "Reject prompts stamped more than this before the latest image, the one they are applied to"
                  " (image time, so bags and simulation work); zero stamp = the latest image; 0 = no limit.",
                  low=0.0, high=1e6),
    ParameterSpec("autostart", True, "startup",
                  "Configure and activate at start. False: wait for lifecycle transitions"
                  " (ros2 lifecycle set /sam2_tracker configure)."),
)  # fmt: skip

PARAMETERS_BY_NAME = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class TrackerParams:
    """Parameter values as read at a lifecycle transition (field names = parameter names)."""

    model: str
    checkpoint: str
    device: str
    dtype: str
    compile: bool
    image_size: int
    max_objects: int
    non_overlap_masks: bool
    fill_hole_area: int
    warmup: bool
    image_transport: str
    image_reliability: str
    image_qos_depth: int
    diagnostics_period_s: float
    publish_overlay: bool
    publish_markers: bool
    overlay_alpha: float
    contour_epsilon_px: float
    marker_depth_m: float
    click_mode: str
    rectified_image: bool
    max_prompt_age_s: float
    autostart: bool


def default_params(**overrides: Any) -> TrackerParams:
    """TrackerParams with the table's defaults, some replaced (for tests and tools)."""
    return TrackerParams(**{**{s.name: s.default for s in PARAMETERS}, **overrides})


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """The ParameterDescriptor a node declares ``spec`` with."""
    desc = ParameterDescriptor(description=spec.description, read_only=spec.when == "startup")
    desc.additional_constraints = {
        "configure": "Read when configuring; change it while unconfigured (cleanup first).",
        "activate": "Read when activating; change it while inactive.",
        "live": "Takes effect at once.",
        "startup": "Read once at start.",
    }[spec.when]
    if spec.choices:
        desc.additional_constraints += f" One of: {', '.join(spec.choices)}."
    if spec.low is not None and spec.high is not None:
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
        else:
            desc.floating_point_range = [FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high))]
    return desc


def check_value(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for parameter ``name`` (beyond type and range), or None."""
    spec = PARAMETERS_BY_NAME.get(name)
    if spec is None:
        return None
    if spec.choices and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}; got '{value}'"
    if name == "device" and not DEVICE_PATTERN.match(str(value)):
        return f"device must be auto, cpu, mps, cuda or cuda:N; got '{value}'"
    return None


def declare_tracker_parameters(node: Any) -> None:
    """Declare every parameter on ``node`` with its descriptor (command-line and YAML overrides apply)."""
    node.declare_parameters("", [(s.name, s.default, descriptor(s)) for s in PARAMETERS])


def read_tracker_parameters(node: Any) -> TrackerParams:
    """Current values of every parameter; raises ValueError naming the first invalid one."""
    values = {s.name: node.get_parameter(s.name).value for s in PARAMETERS}
    for name, value in values.items():
        problem = check_value(name, value)
        if problem:
            raise ValueError(problem)
    return TrackerParams(**values)
