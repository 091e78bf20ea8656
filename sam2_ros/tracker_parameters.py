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
    dynamic_typing: bool = False  # the value may change type (e.g. a string or a string array)


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
                  "Publish ~/overlay (rgb8 frame with masks, contours, ids and labels) and"
                  " ~/overlay/compressed when someone subscribes."),
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
    # --- objects in 3-D from an aligned depth image ---
    ParameterSpec("use_depth", False, "activate",
                  "Also subscribe to `depth` (sensor_msgs/Image aligned to the colour image: 16UC1 or mono16 in"
                  " units of depth_scale_m, 32FC1 in metres), pair it with each colour image by stamp and give"
                  " every object its 3-D position, size and points (~/objects, ~/points, ~/markers, TF)."),
    ParameterSpec("depth_scale_m", 0.001, "live",
                  "Metres per unit of 16UC1 / mono16 depth (0.001: millimetres, REP 118); 32FC1 depth is in"
                  " metres.", low=1e-9, high=1000.0),
    ParameterSpec("depth_slop_s", 0.02, "activate",
                  "A colour image is paired with the depth image of the same stamp or the nearest within this"
                  " many seconds; without one it is tracked without 3-D.", low=0.0, high=10.0),
    ParameterSpec("depth_erosion_px", 2, "live",
                  "Erode each object's region by this many pixels before reading its depth, so background seen"
                  " at its edges does not count (objects too thin for it are used whole).", low=0, high=100),
    ParameterSpec("max_points_per_object", 2000, "live",
                  "Most points per object in ~/points (evenly subsampled; position and size use all).",
                  low=0, high=10_000_000),
    ParameterSpec("publish_tf", False, "live",
                  "Broadcast a TF frame <tf_prefix>object_<id> at each object's position, child of the image's"
                  " frame (needs tf2_ros)."),
    ParameterSpec("tf_prefix", "", "live",
                  "Prefix of the objects' TF frames (e.g. 'sam2/' gives sam2/object_3)."),
    ParameterSpec("autostart", True, "startup",
                  "Configure and activate at start. False: wait for lifecycle transitions"
                  " (ros2 lifecycle set /sam2_tracker configure)."),
    # --- segment everything (~/segment_everything), discovery and forgetting (seeding.discovery) ---
    ParameterSpec("auto_points_per_side", 16, "live",
                  "Clicks per side of the grid the automatic mask generator segments the image from"
                  " (auto_points_per_side**2 clicks) for ~/segment_everything and discovery.", low=1, high=256),
    ParameterSpec("auto_points_per_batch", 64, "live",
                  "Clicks the mask generator decodes at once (more is faster and needs more device memory).",
                  low=1, high=4096),
    ParameterSpec("auto_pred_iou_thresh", 0.7, "live",
                  "Keep generated masks whose predicted IoU is above this (0 = no filter).", low=0.0, high=1.0),
    ParameterSpec("auto_stability_score_thresh", 0.85, "live",
                  "Keep generated masks at least this stable under a change of the logit threshold (0 = no"
                  " filter).", low=0.0, high=1.0),
    ParameterSpec("auto_min_area_px", 100, "live",
                  "Generated masks smaller than this many pixels are not added as objects.", low=0, high=100_000_000),
    ParameterSpec("auto_max_area_fraction", 0.5, "live",
                  "Generated masks larger than this fraction of the image (floors, walls) are not added.",
                  low=0.001, high=1.0),
    ParameterSpec("auto_max_overlap", 0.5, "live",
                  "A generated mask with at least this fraction of its pixels owned by tracked objects is"
                  " taken as already tracked and not added.", low=0.001, high=1.0),
    ParameterSpec("discover_period_s", 0.0, "live",
                  "Every this many seconds of image time, segment the latest image and track what is new"
                  " (objects entering the view); 0 = off.", low=0.0, high=1e6),
    ParameterSpec("forget_after_frames", 0, "live",
                  "Remove an object reported absent (score <= 0) this many tracked frames in a row; 0 = never.",
                  low=0, high=1_000_000),
    # --- text prompts (~/track_text, ~/text_prompts) and detector boxes (detections) ---
    ParameterSpec("detector_model", "", "configure",
                  "Open-vocabulary detector for text prompts: a local directory or a Hugging Face id of a"
                  " transformers zero-shot object detector (Grounding DINO, OWLv2, OWL-ViT, OmDet-Turbo, LLMDet);"
                  " empty = no text prompts."),
    ParameterSpec("detector_device", "", "configure",
                  "Device of the detector: empty = the tracker's (device), else auto, cpu, cuda or cuda:N."),
    ParameterSpec("box_threshold", 0.3, "live",
                  "Least detector score for a text detection to start an object (a request's own"
                  " box_threshold overrides it).", low=0.0, high=1.0),
    ParameterSpec("text_threshold", 0.25, "live",
                  "Grounding DINO-like detectors: least token score for a phrase to name a box.",
                  low=0.0, high=1.0),
    ParameterSpec("text_match_iou", 0.5, "live",
                  "A detection (text or detections topic) whose box overlaps a tracked object with the same"
                  " label by at least this IoU is that object, not a new one.", low=0.0, high=1.0),
    ParameterSpec("text_redetect_period_s", 1.0, "live",
                  "Continuous text prompts: detect again after a tracked frame once this much image time has"
                  " passed (0 = after every frame).", low=0.0, high=3600.0),
    ParameterSpec("detections_enabled", False, "activate",
                  "Subscribe to `detections` (vision_msgs/Detection2DArray, stamped like the images) and start a"
                  " track for each new detection; needs vision_msgs."),
    ParameterSpec("detection_classes", "", "live",
                  "Class ids taken from `detections` (a string array, or one comma-separated string);"
                  " empty = all.", dynamic_typing=True),
    ParameterSpec("detection_min_score", 0.5, "live",
                  "Least hypothesis score for a detection from `detections` to be used.", low=0.0, high=1.0),
    ParameterSpec("detections_refresh", False, "live",
                  "A detection that matches a tracked object of its class re-prompts that object with its box"
                  " (false: it is ignored)."),
    # --- output QoS and compressed outputs ---
    ParameterSpec("output_reliability", "reliable", "activate",
                  "QoS reliability of every output but /diagnostics: reliable (matches reliable and"
                  " best-effort readers) or best_effort (reliable readers do not match).",
                  choices=("reliable", "best_effort")),
    ParameterSpec("output_qos_depth", 5, "activate",
                  "QoS history depth (keep last) of every output but /diagnostics.", low=1, high=100),
    ParameterSpec("overlay_jpeg_quality", 95, "live",
                  "JPEG quality of ~/overlay/compressed (1..100; higher is larger and sharper).",
                  low=1, high=100),
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
    use_depth: bool
    depth_scale_m: float
    depth_slop_s: float
    depth_erosion_px: int
    max_points_per_object: int
    publish_tf: bool
    tf_prefix: str
    autostart: bool
    # segment everything, discovery and forgetting
    auto_points_per_side: int
    auto_points_per_batch: int
    auto_pred_iou_thresh: float
    auto_stability_score_thresh: float
    auto_min_area_px: int
    auto_max_area_fraction: float
    auto_max_overlap: float
    discover_period_s: float
    forget_after_frames: int
    # text prompts and detector boxes
    detector_model: str
    detector_device: str
    box_threshold: float
    text_threshold: float
    text_match_iou: float
    text_redetect_period_s: float
    detections_enabled: bool
    detection_classes: Any
    detection_min_score: float
    detections_refresh: bool
    # output QoS and compressed outputs
    output_reliability: str
    output_qos_depth: int
    overlay_jpeg_quality: int


def default_params(**overrides: Any) -> TrackerParams:
    """TrackerParams with the table's defaults, some replaced (for tests and tools)."""
    return TrackerParams(**{**{s.name: s.default for s in PARAMETERS}, **overrides})


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """The ParameterDescriptor a node declares ``spec`` with."""
    desc = ParameterDescriptor(description=spec.description, read_only=spec.when == "startup")
    desc.dynamic_typing = spec.dynamic_typing
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
    if name == "detector_device" and value and not DEVICE_PATTERN.match(str(value)):
        return f"detector_device must be empty (the tracker's device), auto, cpu, mps, cuda or cuda:N; got '{value}'"
    if name == "detection_classes" and not (
        isinstance(value, str) or (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value))
    ):
        return f"detection_classes must be a string array or a comma-separated string; got {value!r}"
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
