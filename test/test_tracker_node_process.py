# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node as its own process, as users start it: remapped, prompted, failing configure; SIGINT exits 0."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from lifecycle_msgs.srv import GetState
from node_harness import ROOT, NodeProcess, Ros, call, prompt, wait_until
from sam2_ros.msg import TrackedObjectArray
from sam2_ros.srv import AddPrompt, RemoveObject
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from sam2_ros.image_conversion import fill_image, image_to_array


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


def test_failed_configure_keeps_the_process_alive_and_sigint_exits_zero(ros, tmp_path):
    ns = f"/p{os.getpid()}a"
    node = NodeProcess([
        sys.executable, "-m", "sam2_ros.tracker_node", "--ros-args", "-r", f"__ns:={ns}",
        "-p", f"checkpoint:={tmp_path / 'absent.pt'}",
    ])  # fmt: skip
    try:
        node.wait_line("absent.pt' does not exist or is not a file")
        node.wait_line("the node stays unconfigured")
        state = call(ros, GetState, f"{ns}/sam2_tracker/get_state", GetState.Request())
        assert state.current_state.label == "unconfigured"
        assert node.interrupt() == 0, "\n".join(node.lines)
    finally:
        node.kill()


def test_node_process_tracks_takes_prompts_and_exits_cleanly(ros):
    """The real entry point (main) with the fake tracker, remapped like the acceptance check does."""
    ns = f"/p{os.getpid()}b"
    node = NodeProcess([
        sys.executable, str(ROOT / "test" / "fake_tracker_node.py"), "--ros-args", "-r", f"__ns:={ns}",
        "-r", f"image:={ns}/camera/image_raw", "-p", "warmup:=false",
    ])  # fmt: skip
    probe = ros.probe
    labels: list[Image] = []
    objects: list[TrackedObjectArray] = []
    subscriptions = [
        probe.create_subscription(Image, f"{ns}/sam2_tracker/label_image", labels.append, 10),
        probe.create_subscription(TrackedObjectArray, f"{ns}/sam2_tracker/objects", objects.append, 10),
    ]
    image_pub = probe.create_publisher(Image, f"{ns}/camera/image_raw", 10)
    try:
        node.wait_line(f"active: tracking images from {ns}/camera/image_raw")
        wait_until(lambda: image_pub.get_subscription_count() > 0, 30, "the node's image subscription")

        def frame(sec: int) -> Image:
            msg = fill_image(Image(), np.full((24, 32, 3), 90, dtype=np.uint8), "rgb8")
            msg.header.stamp.sec, msg.header.frame_id = sec, "camera_optical"
            return msg

        def tracked(sec: int):
            """Publish frame ``sec`` (again every 0.5 s: across processes the first may precede matching)."""

            def out():
                found = next((m for m in list(objects) if m.header.stamp.sec == sec), None)
                if found is None:
                    image_pub.publish(frame(sec))
                return found

            return wait_until(lambda: out() or time.sleep(0.5), 30, f"objects stamped {sec}")

        tracked(1)
        response = call(ros, AddPrompt, f"{ns}/sam2_tracker/add_prompt",
                        AddPrompt.Request(prompt=prompt(3, "crate", box=[4, 4, 20, 12])))  # fmt: skip
        assert response.success and response.object.id == 3, response.message
        result = tracked(2)
        assert [(o.id, o.label) for o in result.objects] == [(3, "crate")]
        label = next(m for m in labels if m.header.stamp.sec == 2)
        assert label.header.frame_id == "camera_optical" and image_to_array(label)[8, 10] == 3
        removed = call(ros, RemoveObject, f"{ns}/sam2_tracker/remove_object", RemoveObject.Request(object_id=9))
        assert not removed.success and "unknown object id 9" in removed.message
        assert call(ros, Trigger, f"{ns}/sam2_tracker/reset", Trigger.Request()).success
        assert tracked(3).objects == []
        assert node.interrupt() == 0, "\n".join(node.lines)
    finally:
        node.kill()
        for subscription in subscriptions:
            probe.destroy_subscription(subscription)
        probe.destroy_publisher(image_pub)
