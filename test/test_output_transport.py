# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's compressed outputs, output QoS parameters and lost-frame reporting, over DDS in one process."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fake_tracker import fake_factory
from node_harness import SUCCESS, Harness, Ros, stamp_sec, wait_until
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSPolicyKind, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from sam2_ros import output_publisher
from sam2_ros.compressed_images import decode_label_png, decode_overlay_jpeg
from sam2_ros.image_conversion import fill_image, image_to_array
from sam2_ros.transport_losses import SubscriptionEventCallbacks, UnsupportedEventTypeError

BEST_EFFORT = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


@pytest.fixture
def make(ros):
    made: list[Harness] = []

    def factory(**params) -> Harness:
        made.append(Harness(ros, fake_factory(), **params))
        return made[-1]

    yield factory
    for harness in made:
        harness.close()


@pytest.fixture
def reader(ros):
    """reader(msg_type, topic, qos, **subscription kwargs) -> the list its messages are appended to."""
    made = []

    def subscribe(msg_type, topic, qos, **kwargs) -> list:
        received: list = []
        made.append(ros.probe.create_subscription(msg_type, topic, received.append, qos, **kwargs))
        return received

    yield subscribe
    for subscription in made:
        ros.probe.destroy_subscription(subscription)


def count_calls(monkeypatch, module, name: str) -> list:
    """Wrap module.name so every call is recorded."""
    calls: list = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def smooth_frame(sec: int, width: int = 64, height: int = 48) -> Image:
    """A frame of smooth gradients (camera-like; JPEG is measured on it, not on noise)."""
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 127 // (width + height) + 64], -1)
    msg = fill_image(Image(), rgb.astype(np.uint8), "rgb8")
    msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, 500, "cam"
    return msg


def track_msg(h: Harness, msg: Image) -> Image:
    """Send ``msg`` (again each second: images are best effort) until its label image is out."""
    for _ in range(10):
        h.send(msg)
        try:
            return h.output("label_image", msg.header.stamp.sec, timeout=1.0)
        except AssertionError:
            continue
    raise AssertionError(f"no label image for the frame stamped {msg.header.stamp.sec}")


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


def by_stamp(messages: list, sec: int):
    return wait_until(lambda: next((m for m in list(messages) if stamp_sec(m) == sec), None), 10, f"stamp {sec}")


def test_compressed_outputs_are_built_only_with_a_subscriber_and_the_overlay_is_drawn_once(make, reader, monkeypatch):
    pngs = count_calls(monkeypatch, output_publisher, "label_png")
    jpegs = count_calls(monkeypatch, output_publisher, "overlay_jpeg")
    drawings = count_calls(monkeypatch, output_publisher, "overlay_image")
    h = make().start()
    h.track(1)
    h.add_prompt(1, box=[4, 4, 30, 20])
    h.track(2)
    assert pngs == [] and jpegs == []  # nobody subscribes to the compressed topics yet
    base = f"{h.ns}/sam2_tracker"
    labels = reader(CompressedImage, f"{base}/label_image/compressed", BEST_EFFORT)
    overlays = reader(CompressedImage, f"{base}/overlay/compressed", BEST_EFFORT)
    out = h.node._outputs.publishers
    wait_until(
        lambda: out["label_image_compressed"].get_subscription_count() > 0, what="label_image/compressed matched"
    )
    wait_until(lambda: out["overlay_compressed"].get_subscription_count() > 0, what="overlay/compressed matched")
    h.track(3)
    by_stamp(labels, 3), by_stamp(overlays, 3)
    assert pngs and jpegs
    # Raw and JPEG overlay both wanted: drawn once per frame all the same (the probe reads ~/overlay throughout).
    assert len(drawings) == h.node.statistics().processed


def test_compressed_label_image_equals_the_raw_one_and_the_jpeg_overlay_is_close(make, reader):
    h = make(overlay_jpeg_quality=90).start()
    base = f"{h.ns}/sam2_tracker"
    labels = reader(CompressedImage, f"{base}/label_image/compressed", BEST_EFFORT)
    overlays = reader(CompressedImage, f"{base}/overlay/compressed", RELIABLE)
    out = h.node._outputs.publishers
    wait_until(
        lambda: out["label_image_compressed"].get_subscription_count() > 0, what="label_image/compressed matched"
    )
    wait_until(lambda: out["overlay_compressed"].get_subscription_count() > 0, what="overlay/compressed matched")
    track_msg(h, smooth_frame(1, 320, 240))
    h.add_prompt(1, box=[20, 20, 200, 150])
    h.add_prompt(300, points=[(250, 180)])
    raw = track_msg(h, smooth_frame(2, 320, 240))
    png, jpeg, raw_overlay = by_stamp(labels, 2), by_stamp(overlays, 2), h.output("overlay", 2)
    for msg in (png, jpeg):
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (2, 500, "cam")
    assert png.format == "mono16; png compressed" and jpeg.format == "rgb8; jpeg compressed bgr8"
    expected = image_to_array(raw)
    assert set(np.unique(expected)) == {0, 1, 300}
    np.testing.assert_array_equal(decode_label_png(png), expected)
    drawn = image_to_array(raw_overlay)
    decoded = decode_overlay_jpeg(jpeg)
    assert np.abs(decoded.astype(np.int16) - drawn).mean() < 3.0  # within JPEG error of the raw overlay ...
    np.testing.assert_array_equal(decoded, jpeg_round_trip(drawn, 90))  # ... exactly its JPEG at the quality set
    h.node.set_parameters([Parameter("overlay_jpeg_quality", value=20)])  # live: from the next frame on
    track_msg(h, smooth_frame(3, 320, 240))
    coarse = by_stamp(overlays, 3)
    np.testing.assert_array_equal(
        decode_overlay_jpeg(coarse), jpeg_round_trip(image_to_array(h.output("overlay", 3)), 20)
    )
    assert len(coarse.data) < len(jpeg.data)


def test_output_qos_parameters_take_effect_at_activation(make, reader):
    h = make()
    h.start()
    out = h.node._outputs.publishers
    qos = out["label_image"].qos_profile
    assert (qos.reliability, qos.depth) == (ReliabilityPolicy.RELIABLE, 5)  # the defaults
    topic = f"{h.ns}/sam2_tracker/label_image"
    best_effort = reader(Image, topic, BEST_EFFORT)
    wait_until(lambda: out["label_image"].get_subscription_count() == 2, what="a best-effort reader matched too")

    assert h.node.trigger_deactivate() == SUCCESS
    h.activate()
    assert h.node._outputs.publishers["label_image"] is out["label_image"]  # unchanged QoS: the same publishers

    refused = h.node.set_parameters([Parameter("output_reliability", value="best_effort")])[0]
    assert not refused.successful and "read when activating" in refused.reason
    assert h.node.trigger_deactivate() == SUCCESS  # back to inactive
    h.node.set_parameters(
        [Parameter("output_reliability", value="best_effort"), Parameter("output_qos_depth", value=2)]
    )
    h.activate()
    out = h.node._outputs.publishers
    for name in ("label_image", "objects", "overlay", "markers", "label_image_compressed", "overlay_compressed"):
        qos = out[name].qos_profile
        assert (qos.reliability, qos.depth) == (ReliabilityPolicy.BEST_EFFORT, 2), name
    assert out["diagnostics"].qos_profile.reliability == ReliabilityPolicy.RELIABLE  # /diagnostics keeps its QoS
    incompatible: list = []
    reader(Image, topic, RELIABLE, event_callbacks=SubscriptionEventCallbacks(incompatible_qos=incompatible.append))
    wait_until(lambda: incompatible, what="the reliable reader's incompatible-QoS event")
    assert incompatible[-1].last_policy_kind == QoSPolicyKind.RELIABILITY
    wait_until(lambda: out["label_image"].get_subscription_count() == 1, what="only the best-effort reader matched")
    h.send_frame(5)
    wait_until(lambda: any(stamp_sec(m) == 5 for m in best_effort), what="label image 5 best effort")
    assert 5 not in h.stamps("label_image")  # the harness's reliable reader heard nothing

    assert h.node.trigger_deactivate() == SUCCESS
    h.node.set_parameters([Parameter("output_reliability", value="reliable")])
    h.activate()
    out = h.node._outputs.publishers
    wait_until(lambda: out["label_image"].get_subscription_count() == 3, what="all three readers matched again")
    h.track(6)


def test_where_the_rmw_lacks_message_lost_events_the_node_says_so_once_and_tracks(make, monkeypatch):
    original = SubscriptionEventCallbacks.create_event_handlers

    def without_message_lost(self, *args, **kwargs):
        if self.message_lost:
            raise UnsupportedEventTypeError("message lost event is not supported by this rmw (test)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SubscriptionEventCallbacks, "create_event_handlers", without_message_lost)
    h = make().start()
    h.wait_log("does not report lost messages: frames_lost_in_transport stays 0")
    h.track(1)
    assert h.node.trigger_deactivate() == SUCCESS
    h.activate()
    h.track(2)
    assert sum("does not report lost messages" in line for line in h.log_lines()) == 1
    assert h.node._losses.supported is False


def test_with_fast_dds_the_image_subscription_listens_for_lost_messages(make):
    h = make().start()
    assert h.node._losses.supported is True
    assert not any("does not report lost messages" in line for line in h.log_lines())
