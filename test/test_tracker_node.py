# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node over real DDS (in process, loopback) with a fake tracker: contract and bad inputs."""

from __future__ import annotations

import gc
import math
import threading
import time
import weakref

import cv2
import numpy as np
import pytest
from fake_tracker import FakeTracker, fake_factory
from geometry_msgs.msg import Point, PointStamped
from node_harness import FAILURE, HEIGHT, SUCCESS, WIDTH, Harness, Ros, prompt, wait_until
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import Marker

from sam2_ros.image_conversion import fill_image, image_to_array
from sam2_ros.tracker_parameters import PARAMETERS


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


@pytest.fixture
def make(ros):
    """make(**params) -> a Harness around a TrackerNode with a fake tracker; all closed afterwards."""
    made: list[Harness] = []

    def factory(created: list | None = None, fake: dict | None = None, **params) -> Harness:
        harness = Harness(ros, fake_factory(created, **(fake or {})), **params)
        harness.trackers = created
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


def labels_of(msg: Image) -> np.ndarray:
    assert msg.encoding == "mono16"
    return image_to_array(msg)


def test_frames_in_label_images_and_objects_out_with_the_input_header(make):
    h = make().start()
    label, objects = h.track(1)
    for msg in (label, objects):
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (1, 500, "cam")
    assert (label.width, label.height, label.encoding) == (WIDTH, HEIGHT, "mono16")
    assert not labels_of(label).any() and objects.objects == []
    label, _ = h.track(2, encoding="bgr8", width=40, height=30)  # other encodings and sizes
    assert (label.width, label.height) == (40, 30)


def test_prompt_by_service_then_every_output_shows_the_object(make):
    h = make().start()
    h.track(1)
    response = h.add_prompt(1, label="box", box=[10, 10, 30, 20])
    assert response.success, response.message
    assert response.message == "object 1 ('box') added from the add_prompt service"
    obj = response.object
    assert (obj.id, obj.label, obj.visible, obj.area) == (1, "box", True, 200)
    np.testing.assert_array_equal(obj.bbox, [10, 10, 30, 20])
    assert obj.score == pytest.approx(1 / (1 + math.exp(-8.0)), rel=1e-6)  # fake's logit 8; float32 field

    label, objects = h.track(2)
    pixels = labels_of(label)
    assert (pixels[10:20, 10:30] == 1).all() and int((pixels == 1).sum()) == 200
    assert [(o.id, o.label, o.visible, o.area) for o in objects.objects] == [(1, "box", True, 200)]
    assert len(objects.objects[0].contours) == 1
    overlay = h.output("overlay", 2)
    assert overlay.encoding == "rgb8" and overlay.header.frame_id == "cam" and overlay.header.stamp.nanosec == 500
    markers = h.output("markers", 2).markers
    assert markers[0].action == Marker.DELETEALL
    assert any(m.type == Marker.LINE_STRIP and m.header.frame_id == "cam" for m in markers)

    refined = h.add_prompt(1, points=[(40, 40)])  # a refinement; empty label keeps "box"
    assert refined.success and refined.object.label == "box" and "refined" in refined.message
    assert refined.object.area > 200


def test_prompt_by_topic(make):
    h = make().start()
    h.track(1)
    h.prompt_pub.publish(prompt(2, "cup", points=[(40, 30)]))
    h.wait_log("object 2 ('cup') added from the prompts topic")
    label, objects = h.track(2)
    assert labels_of(label)[30, 40] == 2
    assert [(o.id, o.label) for o in objects.objects] == [(2, "cup")]
    h.prompt_pub.publish(prompt(2, points=[(40, 30)], point_labels=[3]))
    assert "must be 1 (foreground) or 0 (background), got 3" in h.wait_log("prompt for object 2 rejected")


def test_rqt_clicks_add_objects_or_refine_the_last_one(make):
    h = make().start()
    h.track(1)
    h.rqt_pub.publish(Point(x=10.0, y=10.0))
    h.wait_log("object 1 ('') added from an image click")
    h.rqt_pub.publish(Point(x=50.0, y=35.0))
    h.wait_log("object 2 ('') added from an image click")
    h.node.set_parameters([Parameter("click_mode", value="refine")])
    h.rqt_pub.publish(Point(x=50.0, y=20.0))
    h.wait_log("object 2 ('') refined from an image click")
    pixels = labels_of(h.track(2)[0])
    assert (pixels[10, 10], pixels[35, 50], pixels[20, 50]) == (1, 2, 2)
    h.rqt_pub.publish(Point(x=500.0, y=20.0))
    assert "lies outside the 64 x 48 image" in h.wait_log("image click rejected")


def camera_info() -> CameraInfo:
    info = CameraInfo(width=WIDTH, height=HEIGHT, distortion_model="plumb_bob")
    info.header.frame_id = "cam"
    info.k = [50.0, 0.0, 32.0, 0.0, 50.0, 24.0, 0.0, 0.0, 1.0]
    return info


def clicked(x: float, y: float, z: float, frame_id: str = "cam") -> PointStamped:
    msg = PointStamped()
    msg.header.frame_id = frame_id
    msg.point.x, msg.point.y, msg.point.z = x, y, z
    return msg


def test_rviz_clicks_are_projected_with_camera_info(make):
    h = make().start()
    h.track(1)
    h.rviz_pub.publish(clicked(0.2, 0.1, 1.0))
    assert "no camera_info received yet" in h.wait_log("RViz click ignored")
    h.info_pub.publish(camera_info())
    wait_until(lambda: h.node._camera_info is not None, what="camera_info")
    h.rviz_pub.publish(clicked(0.2, 0.1, 1.0))  # -> pixel (32 + 50 * 0.2, 24 + 50 * 0.1) = (42, 29)
    h.wait_log("object 1 ('') added from an RViz click")
    assert labels_of(h.track(2)[0])[29, 42] == 1
    h.rviz_pub.publish(clicked(0.0, 0.0, -1.0))
    assert "behind the camera" in h.wait_log("RViz click rejected")
    h.rviz_pub.publish(clicked(5.0, 0.0, 1.0))
    assert "outside the 64 x 48 image" in h.wait_log("lies outside")
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        h.rviz_pub.publish(clicked(0.0, 0.0, 1.0, frame_id="map"))
        assert "tf2_ros is not installed" in h.wait_log("it is in frame 'map'")


def test_remove_and_reset(make):
    h = make().start()
    h.track(1)
    assert h.add_prompt(1, box=[0, 0, 10, 10]).success
    assert h.add_prompt(2, box=[20, 20, 30, 30]).success
    response = h.remove(1)
    assert response.success and response.message == "object 1 removed"
    label, objects = h.track(2)
    assert set(np.unique(labels_of(label))) == {0, 2} and [o.id for o in objects.objects] == [2]
    response = h.remove(7)
    assert not response.success and response.message == "unknown object id 7; tracked ids: [2]"
    response = h.reset()
    assert response.success and response.message == "reset: forgot 1 object(s)"
    label, objects = h.track(3)
    assert not labels_of(label).any() and objects.objects == []
    assert h.add_prompt(5, points=[(5, 5)]).success  # the latest frame still takes prompts after a reset


def bad_images() -> list[tuple[str, Image]]:
    def frame(sec: int, **fields) -> Image:
        msg = fill_image(Image(), np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8), "rgb8")
        msg.header.stamp.sec, msg.header.frame_id = sec, "cam"
        for key, value in fields.items():
            setattr(msg, key, value)
        return msg

    return [
        ("step 100 is smaller than width * bytes per pixel = 64 * 3", frame(11, step=100)),
        ("image data has 100 bytes, fewer than step * height", frame(12, data=bytes(100))),
        ("image has zero size (0 x 48)", frame(13, width=0)),
        ("image has zero size (64 x 0)", frame(14, height=0)),
        ("unsupported image encoding 'yuv422'", frame(15, encoding="yuv422")),
    ]


def test_bad_images_are_rejected_and_the_next_good_frame_is_processed(make):
    h = make().start()
    h.track(1)
    for reason, msg in bad_images():
        h.send(msg)
        h.wait_log(reason)
        h.track(msg.header.stamp.sec + 100)  # the next good frame
    assert h.stamps("label_image") == {1, 111, 112, 113, 114, 115}
    assert h.node.statistics().rejected == 5


def test_compressed_transport_and_undecodable_images(make):
    h = make().start()
    h.track(1)
    h.node.trigger_deactivate()
    assert not h.node.set_parameters([Parameter("model", value="sam2_hiera_large")])[0].successful
    assert h.node.set_parameters([Parameter("image_transport", value="compressed")])[0].successful
    h.activate()
    wait_until(lambda: h.compressed_pub.get_subscription_count() > 0, what="compressed subscription")
    rgb = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", rgb)
    assert ok

    def compressed(sec: int, data: bytes, fmt: str = "png") -> CompressedImage:
        msg = CompressedImage(format=fmt, data=data)
        msg.header.stamp.sec, msg.header.frame_id = sec, "cam"
        return msg

    h.send(compressed(2, png.tobytes()))
    assert h.output("label_image", 2).width == WIDTH
    h.send(compressed(3, b"not an image at all", "jpeg"))
    h.wait_log("could not be decoded as jpeg or png")
    h.send(compressed(4, b""))
    h.wait_log("compressed image has no data")
    h.send(compressed(5, png.tobytes()))
    h.output("label_image", 5)
    assert 3 not in h.stamps("label_image") and 4 not in h.stamps("label_image")


def test_every_bad_prompt_is_answered_with_a_reason_and_the_node_goes_on(make):
    h = make(max_objects=2, max_prompt_age_s=2.0).start()
    before = h.add_prompt(1, points=[(5, 5)])
    assert not before.success and before.message == "no image received yet; prompts apply to the latest image"
    h.track(100)
    small_mask = fill_image(Image(), np.ones((10, 10), dtype=np.uint8), "mono8")
    rgb_mask = fill_image(Image(), np.ones((HEIGHT, WIDTH, 3), dtype=np.uint8), "rgb8")
    full_mask = fill_image(Image(), np.ones((HEIGHT, WIDTH), dtype=np.uint8), "mono8")
    cases = [
        ({"points": [(math.nan, 3)]}, "point coordinates contain NaN or infinite values"),
        ({"points": [(3, math.inf)]}, "point coordinates contain NaN or infinite values"),
        ({"points": [(3, 3), (4, 4)], "point_labels": [1]}, "2 points but 1 point_labels"),
        ({"points": [(3, 3)], "point_labels": [2]}, "must be 1 (foreground) or 0 (background), got 2"),
        ({"box": [1, 2, 3]}, "box must be empty or [x_min, y_min, x_max, y_max], got 3 values"),
        ({"box": [30, 2, 10, 8]}, "is inverted or empty"),
        ({"mask": small_mask}, "bad mask: mask is 10 x 10 but the image is 64 x 48"),
        ({"mask": rgb_mask}, "bad mask: mask encoding must be mono8, got 'rgb8'"),
        ({"object_id": 0, "points": [(3, 3)]}, "object_id must be in 1..65535"),
        (
            {"object_id": -4, "points": [(3, 3)]},
            "object_id must be in 1..65535 (label images are mono16), got -4",
        ),
        (
            {"points": [(3, 3)], "stamp": (97, 0)},
            "s before the latest image (100.000 s); max_prompt_age_s is 2",
        ),
        ({}, "prompt has no points, box or mask"),
        ({"points": [(3, 3)], "mask": small_mask}, "bad mask: mask is 10 x 10"),
        ({"box": [0, 0, 5, 5], "mask": full_mask}, "a prompt takes points and/or a box, or a mask, not both"),
    ]
    for fields, reason in cases:
        object_id = fields.pop("object_id", 1)
        response = h.add_prompt(object_id, **fields)
        assert not response.success and reason in response.message, (reason, response.message)
    assert h.add_prompt(1, points=[(3, 3)], stamp=(99, 0)).success  # within max_prompt_age_s
    assert h.add_prompt(2, points=[(30, 30)]).success
    third = h.add_prompt(3, points=[(50, 30)])
    assert not third.success and "already tracking 2 objects (max_objects is 2)" in third.message
    label, objects = h.track(101)  # still alive and tracking
    assert [o.id for o in objects.objects] == [1, 2]


def test_clicks_and_prompts_before_any_image(make):
    h = make().start()
    h.rqt_pub.publish(Point(x=3.0, y=3.0))
    assert "no image received yet" in h.wait_log("image click rejected")
    h.prompt_pub.publish(prompt(1, points=[(3, 3)]))
    assert "no image received yet" in h.wait_log("prompt for object 1 rejected")
    h.info_pub.publish(camera_info())
    wait_until(lambda: h.node._camera_info is not None, what="camera_info")
    h.rviz_pub.publish(clicked(0.0, 0.0, 1.0))
    assert "no image received yet" in h.wait_log("RViz click rejected")
    _, objects = h.track(1)
    assert objects.objects == []


def test_inference_runs_on_one_worker_thread_and_busy_frames_are_dropped(make):
    created: list[FakeTracker] = []
    h = make(created, fake={"delay_s": 0.1}).start()
    h.track(1)
    assert h.add_prompt(1, box=[0, 0, 8, 8]).success
    for sec in range(2, 10):  # much faster than 10 Hz processing
        h.send_frame(sec)
        time.sleep(0.01)
    responses = [h.add_prompt(2, points=[(30, 30)])]  # serialised with the frames
    h.output("label_image", 9)
    stats = h.node.statistics()
    assert stats.dropped >= 3 and stats.processed < stats.received
    assert stats.processed + stats.dropped == stats.received
    tracker = created[0]
    assert not tracker.overlapped
    assert {thread for _, thread in tracker.calls} == {"sam2_tracking_worker"}
    assert threading.current_thread().name not in {thread for _, thread in tracker.calls}
    assert responses[0].success


def node_entities(node) -> tuple[int, ...]:
    return tuple(len(list(group)) for group in (node.publishers, node.subscriptions, node.services, node.timers))


def worker_threads() -> int:
    return sum(t.name == "sam2_tracking_worker" for t in threading.enumerate())


def test_lifecycle_cycles_twice_without_leaks(make):
    created: list[FakeTracker] = []
    h = make(created)
    baseline, threads = node_entities(h.node), worker_threads()
    for cycle in range(2):
        h.configure()
        assert h.node.stage == "inactive" and worker_threads() == threads + 1
        h.send_frame(cycle * 10 + 1)  # not subscribed yet: ignored
        h.activate()
        h.track(cycle * 10 + 2)
        assert h.add_prompt(1, box=[0, 0, 5, 5]).success
        assert h.node.trigger_deactivate() == SUCCESS and h.node.stage == "inactive"
        h.send_frame(cycle * 10 + 3)
        assert h.add_prompt(2, points=[(1, 1)]).message == "the node is inactive, not active"
        assert h.remove(1).success  # removal and reset work while inactive
        assert h.node.trigger_cleanup() == SUCCESS and h.node.stage == "unconfigured"
        assert node_entities(h.node) == baseline and worker_threads() == threads
    time.sleep(0.3)
    assert h.stamps("label_image") == {2, 12}
    assert len(created) == 2
    gone = weakref.ref(created.pop(0))
    created.clear()
    gc.collect()
    assert gone() is None  # the node kept no reference to the first tracker


def test_bad_checkpoint_fails_configure_and_the_node_can_configure_again(make, tmp_path):
    h = make(checkpoint=str(tmp_path / "missing.pt"))
    assert h.node.trigger_configure() == FAILURE and h.node.stage == "unconfigured"
    assert "missing.pt' does not exist or is not a file" in h.wait_log("configure failed")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"garbage")
    assert h.node.set_parameters([Parameter("checkpoint", value=str(corrupt))])[0].successful
    assert h.node.trigger_configure() == FAILURE
    h.wait_log("not a checkpoint")
    good = tmp_path / "good.pt"
    good.write_bytes(b"fake weights")
    h.node.set_parameters([Parameter("checkpoint", value=str(good))])
    h.start()
    h.track(1)
    bad_device = make(device="gpu")
    assert bad_device.node.trigger_configure() == FAILURE
    assert "device must be auto, cpu, mps, cuda or cuda:N; got 'gpu'" in bad_device.wait_log("configure failed")


def test_parameters_follow_the_lifecycle(make):
    h = make().start()
    result = h.node.set_parameters([Parameter("max_objects", value=3)])[0]
    assert not result.successful and "change it while unconfigured" in result.reason
    result = h.node.set_parameters([Parameter("image_reliability", value="reliable")])[0]
    assert not result.successful and "change it while inactive" in result.reason
    result = h.node.set_parameters([Parameter("click_mode", value="paint")])[0]
    assert not result.successful and "click_mode must be one of new_object, refine" in result.reason
    assert h.node.set_parameters([Parameter("contour_epsilon_px", value=0.0)])[0].successful
    declared = {name for name in h.node._parameters if not name.startswith("use_sim_time")}
    assert {spec.name for spec in PARAMETERS} <= declared
    descriptor = h.node.describe_parameter("autostart")
    assert descriptor.read_only and descriptor.description


def test_autostart_configures_and_activates(ros):
    harness = Harness(ros, fake_factory(), autostart=True)
    try:
        wait_until(lambda: harness.node.stage == "active", what="autostart")
        harness.wait_log("active: tracking images from")
    finally:
        harness.close()


def test_diagnostics_report_rates_drops_latency_objects_and_memory(make, ros):
    h = make(diagnostics_period_s=0.1).start()
    h.track(1)
    h.add_prompt(1, box=[0, 0, 5, 5])
    h.track(2)
    name = f"{h.ns[1:]}/sam2_tracker: tracking"

    def ours():
        for array in reversed(list(ros.diagnostics)):
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name.endswith(name) and values.get("objects") == "1":
                    return status, values
        return None

    status, values = wait_until(ours, what="diagnostics")
    assert status.level == status.OK and status.message.startswith("tracking 1 object(s)")
    expected = {"input_rate_hz", "output_rate_hz", "latency_p50_ms", "latency_max_ms", "objects"}
    expected |= {f"frames_{kind}" for kind in ("received", "processed", "dropped", "rejected")}
    expected.add("memory_process_resident_mb")
    assert expected <= set(values)
    assert int(values["frames_processed"]) >= 2 and float(values["latency_max_ms"]) > 0


def test_warmup_runs_first_and_frames_sent_meanwhile_wait_for_it(make):
    created: list[FakeTracker] = []
    h = make(created, fake={"delay_s": 0.3}, warmup=True)
    h.configure()
    activation = threading.Thread(target=h.node.trigger_activate)
    activation.start()  # the warm-up (two 0.3 s frames) blocks the transition

    def matched() -> bool:
        inputs = h.node._inputs  # replaced by activate
        return bool(inputs) and inputs[0].get_publisher_count() > 0

    wait_until(matched, what="image subscription during warm-up")
    wait_until(lambda: h.image_pub.get_subscription_count() > 0, what="the node's image subscription matched")
    assert activation.is_alive()  # still warming up
    h.send_frame(1)
    activation.join(10)
    assert h.node.stage == "active"
    h.output("label_image", 1)
    assert [name for name, _ in created[0].calls[:5]] == ["track", "add_prompt", "track", "reset", "track"]
    h.wait_log("warm-up took")


class BrokenTracker(FakeTracker):
    def track(self, frame):
        raise RuntimeError("CUDA error: out of memory")


def test_failed_warmup_fails_activation_and_leaves_the_node_inactive(ros):
    harness = Harness(ros, lambda params: BrokenTracker(), warmup=True)
    try:
        harness.configure()
        assert harness.node.trigger_activate() == FAILURE
        assert harness.node.stage == "inactive" and not harness.node._inputs
        assert "out of memory" in harness.wait_log("activate failed: warm-up raised")
    finally:
        harness.close()
