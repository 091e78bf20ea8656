# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""video_source: frame sources and calibrations (no rclpy), then the node over DDS in one process."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from sam2_core.synthetic import SyntheticScene
from sam2_ros.calibration import (
    Calibration,
    camera_info_msg,
    load_calibration,
    pinhole_calibration,
    scaled_calibration,
)
from sam2_ros.frame_sources import (
    FrameReadError,
    ImageFolderSource,
    SyntheticSource,
    VideoFileSource,
    fit_frame,
    list_image_files,
    open_source,
    scene_config,
)
from sam2_ros.image_conversion import image_to_rgb
from sam2_ros.video_source import VideoSourceNode, publish_rate, sensor_qos

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_ID = 1 + (os.getpid() + 67) % 200  # per process, apart from the node tests' formula
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def frames(n: int, height: int = 24, width: int = 32) -> list[np.ndarray]:
    """n distinct RGB frames with a different colour in each corner (channel order shows)."""
    out = []
    for i in range(n):
        rgb = np.zeros((height, width, 3), np.uint8)
        rgb[..., 0] = 200  # red everywhere: a BGR/RGB mix-up shows as blue
        rgb[..., 1] = 40 * i
        out.append(rgb)
    return out


# --- image folders ----------------------------------------------------------------------
def test_folder_lists_images_in_natural_order_and_skips_other_files(tmp_path):
    for name in ("frame10.png", "frame2.png", "frame1.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_image_files(tmp_path)] == ["frame1.jpg", "frame2.png", "frame10.png"]


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_image_files(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no images"):
        list_image_files(tmp_path)


def test_folder_source_reads_rgb_in_order_skips_bad_files_and_rewinds(tmp_path):
    images = frames(3)
    for i, rgb in enumerate(images):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (tmp_path / "001b.png").write_bytes(b"not a png")  # sorts between 001 and 002
    source = ImageFolderSource(tmp_path)
    assert source.length == 4
    np.testing.assert_array_equal(source.read(), images[0])  # PNG is lossless: exact
    np.testing.assert_array_equal(source.read(), images[1])
    with pytest.raises(FrameReadError, match="001b.png"):
        source.read()
    np.testing.assert_array_equal(source.read(), images[2])
    assert source.index == 3 and source.read() is None
    source.rewind()
    np.testing.assert_array_equal(source.read(), images[0])


def test_folder_source_reads_grey_and_16_bit_images(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((4, 5), 77, np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.full((4, 5), 65535, np.uint16))
    source = ImageFolderSource(tmp_path)
    grey = source.read()
    assert grey.shape == (4, 5, 3) and (grey == 77).all()
    deep = source.read()
    assert deep.dtype == np.uint8 and (deep == 255).all()  # 65535 >> 8


# --- video files ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def video_file(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    images = frames(4, 48, 64)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for rgb in images:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path, images


def test_video_source_reads_every_frame_as_rgb_then_ends_and_rewinds(video_file):
    path, images = video_file
    source = VideoFileSource(path)
    got = [source.read() for _ in range(4)]
    assert source.read() is None and source.index == 3
    for rgb, expected in zip(got, images):
        # lossy codec: flat colours survive within a few grey levels
        assert rgb.shape == expected.shape
        assert np.abs(rgb.astype(int) - expected).mean() < 6
    source.rewind()
    assert np.abs(source.read().astype(int) - images[0]).mean() < 6
    source.close()


def test_rate_zero_means_the_video_file_s_own_rate(video_file):
    source = VideoFileSource(video_file[0])
    assert source.fps == pytest.approx(10.0)  # written at 10 fps
    assert publish_rate(0.0, source) == pytest.approx(10.0)
    assert publish_rate(25.0, source) == 25.0
    assert publish_rate(0.0, open_source("synthetic", num_frames=1, width=32, height=24)) == 10.0


def test_video_and_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoFileSource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="junk.mp4"):
        open_source(str(junk))
    with pytest.raises(FileNotFoundError, match="neither 'synthetic' nor"):
        open_source(str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="empty"):
        open_source("")


def test_open_source_picks_the_kind_by_path(tmp_path, video_file):
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((4, 4, 3), np.uint8))
    assert isinstance(open_source(str(tmp_path)), ImageFolderSource)
    assert isinstance(open_source(str(video_file[0])), VideoFileSource)
    assert isinstance(open_source("synthetic", num_frames=2, width=32, height=24), SyntheticSource)


# --- synthetic scenes -------------------------------------------------------------------
def test_synthetic_source_equals_the_generator_and_stops_after_num_frames():
    config = scene_config(width=48, height=32, num_frames=3, num_objects=2)
    assert (config.width, config.height, config.num_objects) == (48, 32, (2, 2))
    source = open_source("synthetic", seed=5, num_objects=2, num_frames=3, width=48, height=32)
    scene = SyntheticScene(5, config)
    for t in range(3):
        rgb, masks, visible = scene.frame(t)
        np.testing.assert_array_equal(source.read(), rgb)
        got_masks, got_visible = source.ground_truth(t)
        np.testing.assert_array_equal(got_masks, masks)
        np.testing.assert_array_equal(got_visible, visible)
    assert source.read() is None
    assert scene_config().width == 640 and scene_config().height == 480


def test_fit_frame_resizes_and_keeps_the_aspect_ratio_when_one_side_is_zero():
    rgb = np.zeros((40, 80, 3), np.uint8)
    assert fit_frame(rgb) is rgb
    assert fit_frame(rgb, 40, 0).shape == (20, 40, 3)
    assert fit_frame(rgb, 0, 10).shape == (10, 20, 3)
    assert fit_frame(rgb, 100, 30).shape == (30, 100, 3)


# --- calibrations -----------------------------------------------------------------------
def test_pinhole_calibration_matches_the_field_of_view():
    cal = pinhole_calibration(640, 480, 90.0)
    fx, cx, fy, cy = cal.k[0], cal.k[2], cal.k[4], cal.k[5]
    assert fx == pytest.approx(320.0) and fy == fx  # tan(45 deg) = 1, exact to rounding
    assert (cx, cy) == (319.5, 239.5)
    # a ray at half the field of view lands on the outer edge of the last pixel column
    assert cx + fx * math.tan(math.radians(45.0)) == pytest.approx(639.5)
    assert cal.p == (fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert cal.d == (0.0,) * 5 and cal.distortion_model == "plumb_bob"
    with pytest.raises(ValueError, match="fov_deg"):
        pinhole_calibration(640, 480, 180.0)


CALIBRATION_YAML = """\
image_width: 640
image_height: 480
camera_name: cam
camera_matrix: {rows: 3, cols: 3, data: [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.2, 0.0, 0.0, 0.01]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [490.0, 0, 321.0, 0, 0, 495.0, 241.0, 0, 0, 0, 1, 0]}
"""


def test_calibration_file_is_read_and_bad_files_are_named(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text(CALIBRATION_YAML)
    cal = load_calibration(path)
    assert (cal.width, cal.height) == (640, 480)
    assert cal.k == (500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0)
    assert cal.d == (0.1, -0.2, 0.0, 0.0, 0.01)
    assert cal.p[0] == 490.0 and cal.p[6] == 241.0
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_calibration(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("image_width: 640\n")
    with pytest.raises(ValueError, match="camera_matrix"):
        load_calibration(bad)
    bad.write_text(CALIBRATION_YAML.replace("data: [500.0, 0.0, 320.0,", "data: [320.0,"))
    with pytest.raises(ValueError, match="camera_matrix"):
        load_calibration(bad)


def test_scaled_calibration_follows_a_resize():
    cal = Calibration(640, 480, k=(500.0, 0.0, 319.5, 0.0, 500.0, 239.5, 0.0, 0.0, 1.0))
    half = scaled_calibration(cal, 320, 240)
    # pixel centres at integers: the centre of a 640-wide image (319.5) is the centre of a 320-wide one
    assert half.k == (250.0, 0.0, 159.5, 0.0, 250.0, 119.5, 0.0, 0.0, 1.0)
    assert half.p[:3] == (250.0, 0.0, 159.5) and half.p[5:7] == (250.0, 119.5)
    assert scaled_calibration(cal, 640, 480) is cal


def test_camera_info_message_carries_the_calibration_and_header():
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 34
    info = camera_info_msg(pinhole_calibration(64, 48, 60.0), header)
    assert isinstance(info, CameraInfo)
    assert (info.width, info.height, info.header.frame_id) == (64, 48, "cam")
    assert (info.header.stamp.sec, info.header.stamp.nanosec) == (12, 34)
    assert len(info.k) == 9 and len(info.p) == 12 and len(info.d) == 5
    assert info.k[0] == pytest.approx(32.0 / math.tan(math.radians(30.0)))


def test_sensor_qos():
    assert sensor_qos("best_effort", 5).reliability == ReliabilityPolicy.BEST_EFFORT
    assert sensor_qos("reliable", 1).reliability == ReliabilityPolicy.RELIABLE
    with pytest.raises(ValueError, match="reliability"):
        sensor_qos("sometimes", 1)


# --- the node -----------------------------------------------------------------------------
@pytest.fixture
def ros():
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    executor = MultiThreadedExecutor(num_threads=3, context=context)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield context, executor
    executor.shutdown(timeout_sec=5)
    rclpy.shutdown(context=context)


def synthetic_parameters(**extra) -> list[Parameter]:
    values = {"source": "synthetic", "width": 64, "height": 48, "num_frames": 4, "seed": 3, **extra}
    return [Parameter(k, value=v) for k, v in values.items()]


def test_node_publishes_images_with_matching_camera_info(ros):
    context, executor = ros
    probe = Node("video_source_probe", context=context)
    images, infos = [], []
    qos = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
    probe.create_subscription(Image, "image", images.append, qos)
    probe.create_subscription(CameraInfo, "camera_info", infos.append, qos)
    executor.add_node(probe)
    params = synthetic_parameters(rate_hz=50.0, reliability="reliable", frame_id="cam_optical",
                                  wait_for_subscribers=1)  # fmt: skip
    node = VideoSourceNode(context=context, parameter_overrides=params)
    executor.add_node(node)
    deadline = time.monotonic() + 10
    while (len(images) < 4 or len(infos) < 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(images) == 4 and len(infos) == 4, (len(images), len(infos))
    time.sleep(0.1)
    assert node.finished and len(images) == 4  # no loop: stops after num_frames
    scene = SyntheticScene(3, scene_config(width=64, height=48, num_frames=4, num_objects=3))
    stamps = []
    for t, (image, info) in enumerate(zip(images, infos)):
        assert image.encoding == "rgb8" and (image.width, image.height) == (64, 48)
        assert image.header.frame_id == info.header.frame_id == "cam_optical"
        assert image.header.stamp == info.header.stamp
        assert (info.width, info.height) == (64, 48)
        np.testing.assert_array_equal(image_to_rgb(image), scene.frame(t)[0])  # from its first frame on
        stamps.append(image.header.stamp.sec * 10**9 + image.header.stamp.nanosec)
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    executor.remove_node(node)
    node.destroy_node()
    probe.destroy_node()


def test_publish_next_loops_or_stops(ros):
    context, _ = ros
    node = VideoSourceNode(context=context, timer=False, parameter_overrides=synthetic_parameters(num_frames=2))
    assert [node.publish_next().index for _ in range(2)] == [0, 1]
    assert node.publish_next() is None and node.finished
    node.destroy_node()
    looping = VideoSourceNode(
        context=context, timer=False, parameter_overrides=synthetic_parameters(num_frames=2, loop=True)
    )
    assert [looping.publish_next().index for _ in range(5)] == [0, 1, 0, 1, 0]
    looping.destroy_node()


def test_node_rejects_bad_sources_and_parameters(ros, tmp_path):
    context, _ = ros
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        VideoSourceNode(context=context, parameter_overrides=[Parameter("source", value=str(tmp_path / "missing.mp4"))])
    with pytest.raises(FileNotFoundError, match="calibration"):
        VideoSourceNode(
            context=context,
            parameter_overrides=synthetic_parameters(calibration_file=str(tmp_path / "cam.yaml")),
        )
    with pytest.raises(ValueError, match="reliability"):
        VideoSourceNode(context=context, parameter_overrides=synthetic_parameters(reliability="maybe"))
    with pytest.raises(ValueError, match="scenario"):
        VideoSourceNode(context=context, parameter_overrides=synthetic_parameters(scenario="zoo"))


def test_node_uses_the_calibration_file_scaled_to_the_frames(ros, tmp_path):
    context, _ = ros
    path = tmp_path / "cam.yaml"
    path.write_text(CALIBRATION_YAML)
    node = VideoSourceNode(
        context=context, timer=False, parameter_overrides=synthetic_parameters(calibration_file=str(path))
    )
    cal = node.calibration_for(64, 48)
    assert cal.k[0] == pytest.approx(50.0) and cal.k[4] == pytest.approx(51.0)
    node.destroy_node()


def run_module(*ros_args: str) -> subprocess.Popen:
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)}
    return subprocess.Popen(
        [sys.executable, "-m", "sam2_ros.video_source", "--ros-args", *ros_args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_main_exits_1_with_a_clear_message_for_a_missing_file():
    process = run_module("-p", "source:=/no/such/video.mp4")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "/no/such/video.mp4" in output and "neither 'synthetic' nor" in output


def test_main_shuts_down_cleanly_on_sigint():
    process = run_module("-p", "width:=32", "-p", "height:=24", "-p", "rate_hz:=20.0", "-p", "loop:=true")
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "publishing synthetic scene" in line or not line:
            break
    assert "publishing synthetic scene" in lines[-1], lines
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output
