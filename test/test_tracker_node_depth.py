# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node with use_depth over real DDS: synthetic RGB-D frames in, objects in 3-D out; bad depth."""

from __future__ import annotations

import importlib.util
import sys
import time
from types import ModuleType

import numpy as np
import pytest
from fake_tracker import FakeTracker
from node_harness import Harness, Ros, wait_until
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from sam2_core.synthetic import SyntheticScene
from sam2_ros.calibration import camera_info_msg, pinhole_calibration
from sam2_ros.depth.geometry import EXTENT_PERCENTILES, back_project, fill_depth_image
from sam2_ros.depth.messages import BOX_NAMESPACE
from sam2_ros.frame_sources import scene_config
from sam2_ros.image_conversion import fill_image

WIDTH, HEIGHT = 320, 240
HAVE_TF2 = importlib.util.find_spec("tf2_ros") is not None
SCENE = SyntheticScene(0, scene_config(width=WIDTH, height=HEIGHT, num_frames=8, num_objects=3))
CALIBRATION = pinhole_calibration(WIDTH, HEIGHT, 60.0)
K = CALIBRATION.k
INTRINSICS = (K[0], K[4], K[2], K[5])


class SceneTracker(FakeTracker):
    """Tracks every object of SCENE from the first frame with its exact mask (frames are recognised by content)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = {SCENE.render(t)[0].tobytes(): t for t in range(SCENE.config.num_frames)}

    def track(self, frame):
        super().track(frame)
        t = self.index.get(np.ascontiguousarray(frame).tobytes())
        if t is not None:
            self.objects = {k + 1: m.copy() for k, m in enumerate(SCENE.frame(t)[1])}
        return self._result()


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


@pytest.fixture
def make(ros):
    made: list[Harness] = []

    def factory(**params) -> Harness:
        settings = {"use_depth": True, "image_reliability": "reliable", **params}
        h = Harness(ros, lambda p: SceneTracker(max_objects=p.max_objects), **settings)
        h.depth_pub = ros.probe.create_publisher(Image, f"{h.ns}/depth", 10)
        h.points = []
        h.points_sub = ros.probe.create_subscription(PointCloud2, f"{h.ns}/sam2_tracker/points", h.points.append, 10)
        made.append(h)
        return h

    yield factory
    for h in made:
        ros.probe.destroy_publisher(h.depth_pub)
        ros.probe.destroy_subscription(h.points_sub)
        h.close()


def start(h: Harness) -> Harness:
    h.start()
    if h.node.get_parameter("use_depth").value:
        wait_until(lambda: h.depth_pub.get_subscription_count() > 0, what="depth matched")
        wait_until(lambda: h.node._depth_input._subscription.get_publisher_count() > 0, what="depth matched")
    wait_until(lambda: h.node._outputs.publishers["points"].get_subscription_count() > 0, what="points matched")
    return h


def header(sec: int) -> Header:
    h = Header(frame_id="camera_color_optical_frame")
    h.stamp.sec, h.stamp.nanosec = sec, 500
    return h


def send_camera_info(h: Harness) -> None:
    h.info_pub.publish(camera_info_msg(CALIBRATION, header(0)))
    wait_until(lambda: h.node._camera_info is not None, what="camera_info")


def colour(t: int, sec: int) -> Image:
    return fill_image(Image(header=header(sec)), SCENE.render(t)[0], "rgb8")


def depth(t: int, sec: int, encoding: str = "16UC1", size: tuple[int, int] | None = None) -> Image:
    metres = SCENE.depth(t)
    if size is not None:  # a depth camera of lower resolution (same field of view)
        w, h = size
        metres = metres[:: HEIGHT // h, :: WIDTH // w][:h, :w]
    return fill_depth_image(Image(header=header(sec)), metres, encoding)


def objects_of(h: Harness, sec: int, timeout: float = 30.0):
    return h.output("objects", sec, timeout)


def true_spread(t: int, obj_id: int) -> np.ndarray:
    """The 1st to 99th percentile spread (x, y, z) of an object's true visible surface on frame ``t``."""
    label = SCENE.render(t, noise=False)[1]
    vs, us = np.nonzero(label == obj_id)
    points = back_project(us, vs, SCENE.depth(t, label)[vs, us], INTRINSICS)
    low, high = np.percentile(points, EXTENT_PERCENTILES, axis=0)
    return high - low


def assert_positions_match_the_scene(msg, t: int) -> None:
    """Within 2 % of the true depth and 1 cm laterally of each object's true centre; sizes and counts alike."""
    truth = {s.obj_id: s for s in SCENE.objects_3d(t, INTRINSICS)}
    assert [o.id for o in msg.objects] == [1, 2, 3]
    for obj in msg.objects:
        true = truth[obj.id]
        assert obj.visible and obj.has_position, obj.id
        p = np.array([obj.position.x, obj.position.y, obj.position.z])
        assert abs(p[2] - true.centroid[2]) < 0.02 * true.centroid[2], (obj.id, p, true.centroid)
        assert np.hypot(*(p[:2] - true.centroid[:2])) < 0.01, (obj.id, p, true.centroid)
        size = np.array([obj.size.x, obj.size.y, obj.size.z])
        assert np.all(size <= true.upper - true.lower + 0.002), (obj.id, size, true.upper - true.lower)
        np.testing.assert_allclose(size, true_spread(t, obj.id), atol=0.01)  # 16-bit depth: 1 mm steps
        assert 0.8 * true.pixels < obj.depth_points <= true.pixels


def read_cloud(msg: PointCloud2) -> dict[str, np.ndarray]:
    """Each field of the cloud, read by its declared offset and type (sensor_msgs_py is not installable here)."""
    data = np.frombuffer(bytes(msg.data), np.uint8).reshape(-1, msg.point_step)
    kinds = {7: np.dtype("<f4"), 4: np.dtype("<u2")}  # FLOAT32, UINT16
    out = {}
    for f in msg.fields:
        kind = kinds[f.datatype]
        out[f.name] = np.frombuffer(data[:, f.offset : f.offset + kind.itemsize].tobytes(), kind)
    return out


def test_rgbd_frames_give_each_object_its_position_size_points_and_box(make):
    h = start(make(max_points_per_object=300))
    send_camera_info(h)
    for t in range(3):
        sec = 10 + t
        if t % 2:  # the depth image may come before or after its colour image
            h.depth_pub.publish(depth(t, sec))
            h.image_pub.publish(colour(t, sec))
        else:
            h.image_pub.publish(colour(t, sec))
            h.depth_pub.publish(depth(t, sec))
        msg = objects_of(h, sec)
        assert (msg.header.frame_id, msg.header.stamp.nanosec) == ("camera_color_optical_frame", 500)
        assert_positions_match_the_scene(msg, t)
    cloud = wait_until(lambda: next((m for m in list(h.points) if m.header.stamp.sec == 12), None), 30, "points")
    assert cloud.header.frame_id == "camera_color_optical_frame"
    points = read_cloud(cloud)
    assert sorted(set(points["object_id"].tolist())) == [1, 2, 3]
    for true in SCENE.objects_3d(2, INTRINSICS):
        mine = points["object_id"] == true.obj_id
        assert 0 < mine.sum() <= 300
        xyz = np.stack([points["x"][mine], points["y"][mine], points["z"][mine]], axis=1)
        assert np.all(xyz >= true.lower - 0.002) and np.all(xyz <= true.upper + 0.002), true.obj_id
    markers = h.output("markers", 12).markers
    boxes = [m for m in markers if m.ns == BOX_NAMESPACE]
    assert sorted(m.id for m in boxes) == [1, 2, 3] and all(m.type == Marker.CUBE for m in boxes)
    assert not any(m.type == Marker.LINE_STRIP for m in markers)  # boxes instead of the flat outlines
    by_id = {o.id: o for o in objects_of(h, 12).objects}
    for box in boxes:
        assert box.pose.position.z == pytest.approx(by_id[box.id].position.z)


def test_32_bit_and_half_resolution_depth_give_the_same_positions(make):
    h = start(make())
    send_camera_info(h)
    h.image_pub.publish(colour(3, 20))
    h.depth_pub.publish(depth(3, 20, "32FC1"))
    assert_positions_match_the_scene(objects_of(h, 20), 3)
    h.depth_pub.publish(depth(3, 21, size=(WIDTH // 2, HEIGHT // 2)))
    h.image_pub.publish(colour(3, 21))
    msg = objects_of(h, 21)
    for obj in msg.objects:  # half resolution: a pixel of depth covers 2 x 2 of colour; still within 2 %
        true = next(s for s in SCENE.objects_3d(3, INTRINSICS) if s.obj_id == obj.id)
        assert obj.has_position and abs(obj.position.z - true.centroid[2]) < 0.02 * true.centroid[2]


def test_pairing_within_the_slop_and_colour_without_depth(make):
    h = start(make(depth_slop_s=0.02))
    send_camera_info(h)
    near = depth(0, 30)
    near.header.stamp.nanosec += 15_000_000  # 15 ms later: within the slop
    h.depth_pub.publish(near)
    h.image_pub.publish(colour(0, 30))
    assert all(o.has_position for o in objects_of(h, 30).objects)
    far = depth(1, 31)
    far.header.stamp.nanosec += 30_000_000  # 30 ms: outside
    h.depth_pub.publish(far)
    h.image_pub.publish(colour(1, 31))
    msg = objects_of(h, 31)  # tracked as before (after the node's short wait for a depth image), no 3-D
    assert [o.visible for o in msg.objects] == [True] * 3 and not any(o.has_position for o in msg.objects)
    assert all(o.position.z == 0.0 and o.depth_points == 0 for o in msg.objects)
    assert "has no depth image on" in h.wait_log("within depth_slop_s = 0.02 s")


def bad_depths() -> list[tuple[str, Image]]:
    wrong_encoding = fill_image(Image(header=header(0)), np.zeros((HEIGHT, WIDTH, 3), np.uint8), "rgb8")
    other_aspect = fill_depth_image(Image(header=header(0)), np.ones((HEIGHT, HEIGHT)), "16UC1")
    zeros = fill_depth_image(Image(header=header(0)), np.zeros((HEIGHT, WIDTH)), "16UC1")
    nans = fill_depth_image(Image(header=header(0)), np.full((HEIGHT, WIDTH), np.nan), "32FC1")
    infinite = fill_depth_image(Image(header=header(0)), np.full((HEIGHT, WIDTH), np.inf), "32FC1")
    negative = fill_depth_image(Image(header=header(0)), -SCENE.depth(0), "32FC1")
    return [
        ("unsupported depth encoding 'rgb8'", wrong_encoding),
        ("depth image is 240 x 240 but the colour image is 320 x 240: another aspect ratio", other_aspect),
        ("has no valid depth: every pixel is zero, NaN, infinite or negative", zeros),
        ("has no valid depth", nans),
        ("has no valid depth", infinite),
        ("has no valid depth", negative),
    ]


def test_bad_depth_costs_only_the_3d_fields_and_is_logged_once_per_reason(make):
    h = start(make())
    started = time.monotonic()
    h.image_pub.publish(colour(0, 40))
    h.depth_pub.publish(depth(0, 40))
    msg = objects_of(h, 40)
    assert [o.visible for o in msg.objects] == [True] * 3 and not any(o.has_position for o in msg.objects)
    h.wait_log("no camera_info received yet: 3-D positions need its intrinsics (K)")
    send_camera_info(h)
    for i, (reason, bad) in enumerate(bad_depths()):
        for repeat in range(2):  # the same reason twice in a row: logged once
            sec = 41 + 2 * i + repeat
            bad.header = header(sec)
            h.depth_pub.publish(bad)
            h.image_pub.publish(colour(0, sec))
            msg = objects_of(h, sec)
            assert [o.visible for o in msg.objects] == [True] * 3 and not any(o.has_position for o in msg.objects)
            assert h.output("label_image", sec).width == WIDTH  # the 2-D outputs go on
        h.wait_log(reason)
    lines = h.log_lines()
    windows = 1 + int((time.monotonic() - started) / 5.0)  # at most one line per reason per 5 s
    assert sum("unsupported depth encoding" in line for line in lines) == 1
    assert sum("another aspect ratio" in line for line in lines) == 1
    assert 1 <= sum("has no valid depth" in line for line in lines) <= windows  # 8 frames, one reason
    assert not any("negative values: not depth" in line for line in lines)  # all negative: no valid depth
    h.image_pub.publish(colour(0, 60))
    h.depth_pub.publish(depth(0, 60))
    assert_positions_match_the_scene(objects_of(h, 60), 0)  # and good depth works again at once


def test_negative_values_are_named_and_the_valid_pixels_still_count(make):
    h = start(make())
    send_camera_info(h)
    metres = SCENE.depth(0)
    metres[:10] = -1.0  # a few rows of nonsense above the objects
    h.depth_pub.publish(fill_depth_image(Image(header=header(70)), metres, "32FC1"))
    h.image_pub.publish(colour(0, 70))
    assert_positions_match_the_scene(objects_of(h, 70), 0)
    h.wait_log("depth image has 3200 negative values: not depth (check the encoding and depth_scale_m)")


class FakeBroadcaster:
    """Stands in for tf2_ros.TransformBroadcaster where tf2_ros is not installed (records what is sent)."""

    sent: list = []

    def __init__(self, node) -> None:
        self.node = node

    def sendTransform(self, transforms) -> None:  # noqa: N802 (tf2_ros's name)
        FakeBroadcaster.sent.extend(transforms)


def test_tf_frames_at_the_objects_positions(make, monkeypatch):
    if not HAVE_TF2:  # our calls, checked against a stand-in; the real tf2_ros path below runs where it is
        fake = ModuleType("tf2_ros")
        fake.TransformBroadcaster = FakeBroadcaster
        monkeypatch.setitem(sys.modules, "tf2_ros", fake)
        FakeBroadcaster.sent = []
    h = start(make(publish_tf=True, tf_prefix="sam2/"))
    send_camera_info(h)
    if HAVE_TF2:
        from tf2_ros import Buffer, TransformListener

        buffer = Buffer()
        listener = TransformListener(buffer, h.ros.probe)
    h.image_pub.publish(colour(1, 80))
    h.depth_pub.publish(depth(1, 80))
    objects = {o.id: o for o in objects_of(h, 80).objects}
    if HAVE_TF2:
        from rclpy.time import Time

        for object_id, obj in objects.items():
            t = wait_until(
                lambda i=object_id: (
                    buffer.can_transform("camera_color_optical_frame", f"sam2/object_{i}", Time())
                    and buffer.lookup_transform("camera_color_optical_frame", f"sam2/object_{i}", Time())
                ),
                10,
                "transform",
            )
            assert t.transform.translation.z == pytest.approx(obj.position.z)
        listener.unregister()
        return
    sent = wait_until(lambda: [t for t in FakeBroadcaster.sent if t.header.stamp.sec == 80], 10, "transforms")
    assert sorted(t.child_frame_id for t in sent) == ["sam2/object_1", "sam2/object_2", "sam2/object_3"]
    for t in sent:
        obj = objects[int(t.child_frame_id.rsplit("_", 1)[1])]
        assert t.header.frame_id == "camera_color_optical_frame"
        assert (t.transform.translation.x, t.transform.translation.z) == pytest.approx((obj.position.x, obj.position.z))


@pytest.mark.skipif(HAVE_TF2, reason="tf2_ros is installed: the missing-tf2_ros message does not apply")
def test_publish_tf_without_tf2_ros_says_so_once(make):
    h = start(make(publish_tf=True))
    send_camera_info(h)
    for sec in (90, 91):
        h.image_pub.publish(colour(0, sec))
        h.depth_pub.publish(depth(0, sec))
        assert all(o.has_position for o in objects_of(h, sec).objects)
    h.wait_log("publish_tf is true but tf2_ros is not installed")
    time.sleep(0.2)
    assert sum("tf2_ros is not installed: no TF frames" in line for line in h.log_lines()) == 1


def test_without_use_depth_nothing_changes(make):
    h = start(make(use_depth=False))
    send_camera_info(h)
    h.image_pub.publish(colour(0, 95))
    h.depth_pub.publish(depth(0, 95))
    msg = objects_of(h, 95)
    assert [o.visible for o in msg.objects] == [True] * 3 and not any(o.has_position for o in msg.objects)
    markers = h.output("markers", 95).markers
    assert any(m.type == Marker.LINE_STRIP for m in markers) and not any(m.ns == BOX_NAMESPACE for m in markers)
    time.sleep(0.3)
    assert h.points == [] and h.node._depth_input._subscription is None
