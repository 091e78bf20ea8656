# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""video_source with publish_depth: the synthetic scene's exact depth on `depth`, stamped as its image."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from sam2_core.synthetic import SyntheticScene
from sam2_ros.depth.geometry import decode_depth, depth_to_array
from sam2_ros.frame_sources import SyntheticSource, scene_config
from sam2_ros.video_source import VideoSourceNode

DOMAIN_ID = 1 + (os.getpid() + 89) % 200  # per process, apart from the other node tests' formulas
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def test_synthetic_source_gives_the_depth_of_the_frame_read_last():
    source = SyntheticSource(3, scene_config(width=64, height=48, num_frames=3, num_objects=2))
    with pytest.raises(ValueError, match="no frame read yet"):
        source.depth()
    source.read()
    source.read()
    np.testing.assert_array_equal(source.depth(), source.scene.depth(1))


@pytest.fixture
def ros():
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    executor = MultiThreadedExecutor(num_threads=3, context=context)
    threading.Thread(target=executor.spin, daemon=True).start()
    yield context, executor
    executor.shutdown(timeout_sec=5)
    rclpy.shutdown(context=context)


def parameters(**extra) -> list[Parameter]:
    values = {"source": "synthetic", "width": 64, "height": 48, "num_frames": 3, "seed": 3, **extra}
    return [Parameter(k, value=v) for k, v in values.items()]


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_depth_is_published_with_the_image_s_header(ros, encoding):
    context, executor = ros
    probe = Node("depth_probe", context=context)
    images, depths = [], []
    qos = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
    probe.create_subscription(Image, "image", images.append, qos)
    probe.create_subscription(Image, "depth", depths.append, qos)
    executor.add_node(probe)
    node = VideoSourceNode(
        context=context, timer=False,
        parameter_overrides=parameters(publish_depth=True, depth_encoding=encoding, reliability="reliable"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while node.depth_pub.get_subscription_count() < 1 or node.image_pub.get_subscription_count() < 1:
            assert time.monotonic() < deadline, "not matched"
            time.sleep(0.01)
        for _ in range(3):
            node.publish_next()
        while len(depths) < 3 or len(images) < 3:
            assert time.monotonic() < deadline + 10, (len(images), len(depths))
            time.sleep(0.01)
        scene = SyntheticScene(3, scene_config(width=64, height=48, num_frames=3, num_objects=3))
        for t, (image, depth) in enumerate(zip(images, depths)):
            assert depth.header == image.header and (depth.width, depth.height, depth.encoding) == (64, 48, encoding)
            truth = scene.depth(t)
            if encoding == "16UC1":  # millimetres
                np.testing.assert_array_equal(depth_to_array(depth), np.rint(truth * 1000).astype(np.uint16))
            else:
                np.testing.assert_array_equal(decode_depth(depth).metres, truth)
    finally:
        node.destroy_node()
        probe.destroy_node()


def test_depth_needs_the_synthetic_source_and_a_known_encoding(ros, tmp_path):
    context, _ = ros
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(ValueError, match="publish_depth needs source 'synthetic'"):
        VideoSourceNode(context=context, parameter_overrides=parameters(source=str(tmp_path), publish_depth=True))
    with pytest.raises(ValueError, match="depth_encoding must be 16UC1 or 32FC1; got 'mono8'"):
        VideoSourceNode(context=context, parameter_overrides=parameters(depth_encoding="mono8"))
    node = VideoSourceNode(context=context, timer=False, parameter_overrides=parameters())
    assert node.depth_pub is None and node.count_publishers("depth") == 0  # off by default
    node.destroy_node()
