# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node with the real sam2_core.Tracker (sam2.1_hiera_tiny, random official-format weights, 256 px input).

In process and as a separate process started the way the acceptance check starts it. Random
weights make the masks meaningless, so these tests check the contract (ids, labels, headers,
encodings, failures with messages, clean exit), not mask quality.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from geometry_msgs.msg import Point
from node_harness import SUCCESS, Harness, NodeProcess, Ros, call, prompt, wait_until
from reference import official_checkpoint
from sam2_ros.msg import Prompt, TrackedObjectArray
from sam2_ros.srv import AddPrompt, RemoveObject
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

import sam2_core
from sam2_ros.image_conversion import fill_image, image_to_array
from sam2_ros.tracker_factory import make_tracker

pytestmark = pytest.mark.skipif(
    not hasattr(sam2_core, "Tracker"), reason="sam2_core.Tracker is not exported yet (issue 3)"
)
MODEL = "sam2.1_hiera_tiny"


@pytest.fixture(scope="module")
def checkpoint(checkpoint_dir) -> str:
    return official_checkpoint(MODEL, 0, checkpoint_dir)


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


def ids_in(label: Image) -> set[int]:
    assert label.encoding == "mono16"
    return set(np.unique(image_to_array(label)).tolist()) - {0}


def test_real_tracker_in_process(ros, checkpoint):
    h = Harness(ros, make_tracker, model=MODEL, checkpoint=checkpoint, device="cpu", image_size=256)
    try:
        h.start()
        label, objects = h.track(1)
        assert (label.header.stamp.sec, label.header.frame_id, label.encoding) == (1, "cam", "mono16")
        assert objects.objects == [] and not ids_in(label)
        response = h.add_prompt(1, label="cup", points=[(30, 20)])
        assert response.success, response.message
        assert (response.object.id, response.object.label) == (1, "cup")
        h.prompt_pub.publish(prompt(2, "plate", box=[2, 2, 20, 20]))
        h.wait_log("object 2 ('plate') added from the prompts topic", timeout=60)
        h.rqt_pub.publish(Point(x=50.0, y=40.0))
        h.wait_log("object 3 ('') added from an image click", timeout=60)
        label, objects = h.track(2)
        assert [(o.id, o.label) for o in objects.objects] == [(1, "cup"), (2, "plate"), (3, "")]
        assert ids_in(label) <= {1, 2, 3}
        bad = h.add_prompt(4, box=[10, 10, 5, 20])
        assert not bad.success and "inverted" in bad.message
        assert h.remove(2).success and not h.remove(2).success
        assert h.reset().success
        label, objects = h.track(3)
        assert objects.objects == [] and not ids_in(label)
        assert h.node.trigger_deactivate() == SUCCESS and h.node.trigger_cleanup() == SUCCESS
    finally:
        h.close()


def test_acceptance_style_separate_process(ros, checkpoint):
    """As the acceptance check does: `python -m sam2_ros.tracker_node` from the root, 640 x 480 frames.

    Images are reliable here (publisher and ``image_reliability``): best-effort 900 KB frames from
    this process to the node were often lost on a loaded 2-core machine (once 330 resends, 0.5 s
    apart, before one arrived, with the publisher matched), which made this test flaky. The
    best-effort default is covered in-process (small frames); the README's troubleshooting says what
    to do.
    """
    cam = f"/acc{os.getpid()}"
    node = NodeProcess([
        sys.executable, "-m", "sam2_ros.tracker_node", "--ros-args",
        "-p", f"model:={MODEL}", "-p", f"checkpoint:={checkpoint}", "-p", "device:=cpu",
        "-p", "image_size:=256", "-p", "image_reliability:=reliable",
        "-r", f"__ns:={cam}", "-r", f"image:={cam}/color/image", "-r", f"camera_info:={cam}/color/info",
        "-r", f"image_mouse_left:={cam}/click",
    ])  # fmt: skip
    probe, base = ros.probe, f"{cam}/sam2_tracker"
    labels: list[Image] = []
    objects: list[TrackedObjectArray] = []
    entities = [
        probe.create_subscription(Image, f"{base}/label_image", labels.append, 10),
        probe.create_subscription(TrackedObjectArray, f"{base}/objects", objects.append, 10),
    ]
    image_pub = probe.create_publisher(Image, f"{cam}/color/image", 10)
    info_pub = probe.create_publisher(CameraInfo, f"{cam}/color/info", 10)
    prompt_pub = probe.create_publisher(Prompt, f"{base}/prompts", 10)
    click_pub = probe.create_publisher(Point, f"{cam}/click", 10)
    rng = np.random.default_rng(0)

    def frame(sec: int, shape: tuple[int, int] = (480, 640), **fields) -> Image:
        msg = fill_image(Image(), rng.integers(0, 256, (*shape, 3), dtype=np.uint8), "rgb8")
        msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, 250, "color_optical"
        for key, value in fields.items():
            setattr(msg, key, value)
        return msg

    def tracked(sec: int) -> TrackedObjectArray:
        def out():
            found = next((m for m in list(objects) if m.header.stamp.sec == sec), None)
            assert node.proc.poll() is None, f"the node exited with {node.proc.returncode}"
            if found is None:
                image_pub.publish(frame(sec))
                time.sleep(0.5)
            return found

        return wait_until(out, 120, f"objects stamped {sec}")

    def add(msg: Prompt) -> AddPrompt.Response:
        return call(ros, AddPrompt, f"{base}/add_prompt", AddPrompt.Request(prompt=msg))

    try:
        node.wait_line("active: tracking images from", timeout=120)
        tracked(1)
        # the label image and the objects are separate topics: either may arrive first
        label = wait_until(lambda: next((m for m in list(labels) if m.header.stamp.sec == 1), None), 30, "label 1")
        assert (label.width, label.height, label.encoding, label.header.frame_id) == (
            640,
            480,
            "mono16",
            "color_optical",
        )
        assert label.header.stamp.nanosec == 250
        response = add(prompt(5, "box", box=[100, 100, 300, 260]))
        assert response.success and (response.object.id, response.object.label) == (5, "box"), response.message
        prompt_pub.publish(prompt(6, "ball", points=[(400, 300)]))
        node.wait_line("object 6 ('ball') added from the prompts topic")
        click_pub.publish(Point(x=600.0, y=50.0))
        node.wait_line("object 7 ('') added from an image click")
        result = tracked(2)
        assert [(o.id, o.label) for o in result.objects] == [(5, "box"), (6, "ball"), (7, "")]
        label2 = wait_until(lambda: next((m for m in list(labels) if m.header.stamp.sec == 2), None), 30, "label 2")
        assert ids_in(label2) <= {5, 6, 7}

        # bad inputs: answered or logged, the node goes on
        def rejected() -> bool:  # resend until logged
            if any("image step 10 is smaller than width * bytes per pixel" in line for line in list(node.lines)):
                return True
            # a small malformed frame, so the rejection does not depend on large-message delivery
            image_pub.publish(frame(90, (48, 64), step=10))
            time.sleep(0.5)
            return False

        wait_until(rejected, 120, "the bad image to be rejected")
        bad = add(prompt(8, points=[(1, 1)], point_labels=[7]))
        assert not bad.success and "got 7" in bad.message
        info_pub.publish(CameraInfo())  # no intrinsics: markers fall back, nothing breaks
        removed = call(ros, RemoveObject, f"{base}/remove_object", RemoveObject.Request(object_id=42))
        assert not removed.success and "unknown object id 42" in removed.message
        assert call(ros, RemoveObject, f"{base}/remove_object", RemoveObject.Request(object_id=6)).success
        assert [o.id for o in tracked(3).objects] == [5, 7]
        assert call(ros, Trigger, f"{base}/reset", Trigger.Request()).success
        assert tracked(4).objects == []
        assert node.interrupt() == 0, "\n".join(node.lines)
    except BaseException:
        print("node output:", *node.lines, sep="\n")  # shown by pytest on failure
        raise
    finally:
        node.kill()
        for entity in entities:
            probe.destroy_subscription(entity)
        for publisher in (image_pub, info_pub, prompt_pub, click_pub):
            probe.destroy_publisher(publisher)
