# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Text prompts and detector boxes through the node over real DDS (fake tracker, scripted detector).

~/track_text (one-shot and continuous), ~/stop_text, ~/text_prompts, the detections bridge with
the test-only vision_msgs stand-in (test/vision_msgs_standin), the node without vision_msgs, and
every bad input of the issue: nothing tracked changes and the node keeps running.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fake_tracker import fake_factory
from node_harness import SUCCESS, Harness, Ros, wait_until
from rclpy.parameter import Parameter
from sam2_ros.srv import TrackText
from std_msgs.msg import String
from std_srvs.srv import Trigger

from sam2_core.detection import Detection, DetectorError
from sam2_ros.image_conversion import image_to_array
from sam2_ros.seeding.detections import detection_array_type
from sam2_ros.seeding.text_server import make_detector

ROOT = Path(__file__).resolve().parents[1]
Detection2DArray = detection_array_type()


class ScriptedDetector:
    """An OpenVocabularyDetector stand-in: ``answers[phrase]`` = [(box, score), ...] (editable while running).

    It records every call with the thread it ran on.
    """

    def __init__(self, answers: dict | None = None, fail: str = "") -> None:
        self.answers = dict(answers or {})
        self.fail = fail
        self.calls: list[tuple[tuple[str, ...], float, float, str]] = []

    def detect(self, image, phrases, box_threshold=0.3, text_threshold=0.25):
        self.calls.append((tuple(phrases), box_threshold, text_threshold, threading.current_thread().name))
        assert image.ndim == 3 and image.dtype == np.uint8
        if self.fail:
            raise RuntimeError(self.fail)
        found = [
            Detection(tuple(float(v) for v in box), score, phrase)
            for phrase in phrases
            for box, score in self.answers.get(phrase, [])
            if score > box_threshold
        ]
        return sorted(found, key=lambda d: -d.score)

    def requests(self) -> list[tuple[str, ...]]:
        """Phrases of each call after the load-time warm-up."""
        return [c[0] for c in self.calls if c[0] != ("object",)]


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


@pytest.fixture
def make(ros):
    """make(detector, **params) -> a started Harness whose detector_factory returns ``detector``."""
    made: list[Harness] = []

    def build(detector=None, start: bool = True, detector_factory=None, **params) -> Harness:
        factory = detector_factory or (lambda p: detector)
        settings = {"detector_model": "scripted", **params}
        harness = Harness(ros, fake_factory(), detector_factory=factory, **settings)
        base = f"{harness.ns}/sam2_tracker"
        probe = ros.probe
        harness.text_client = probe.create_client(TrackText, f"{base}/track_text")
        harness.stop_client = probe.create_client(Trigger, f"{base}/stop_text")
        harness.text_pub = probe.create_publisher(String, f"{base}/text_prompts", 10)
        harness._entities += [
            (probe.destroy_client, harness.text_client),
            (probe.destroy_client, harness.stop_client),
            (probe.destroy_publisher, harness.text_pub),
        ]
        made.append(harness)
        if start:
            harness.start()
            wait_until(lambda: harness.text_pub.get_subscription_count() > 0, what="text_prompts matched")
            if detector is not None and settings["detector_model"]:
                harness.wait_log("text prompts: detector 'scripted' ready")  # loaded on its own thread
        return harness

    yield build
    for harness in made:
        harness.close()


def track_text(h: Harness, text: str, box_threshold: float = 0.0, continuous: bool = False) -> TrackText.Response:
    request = TrackText.Request(text=text, box_threshold=box_threshold, continuous=continuous)
    return h.call(h.text_client, request, timeout=60)


def labels_of(h: Harness, sec: int) -> dict[int, str]:
    _, objects = h.track(sec)
    return {o.id: o.label for o in objects.objects}


BOTTLES = {"bottle": [((2, 2, 12, 12), 0.9), ((30, 5, 40, 20), 0.8)], "cup": [((50, 30, 60, 40), 0.2)]}


def test_track_text_adds_one_object_per_detection_on_the_worker_and_skips_tracked_ones(make):
    detector = ScriptedDetector(BOTTLES)
    h = make(detector)
    h.track(1)
    assert h.add_prompt(7, label="plate", box=[45, 2, 60, 10]).success
    response = track_text(h, "bottle. cup")
    assert response.success, response.message
    # ids above the largest in use; the cup scores under box_threshold 0.3
    assert (list(response.object_ids), list(response.labels)) == ([8, 9], ["bottle", "bottle"])
    assert [(o.id, o.label, o.visible) for o in response.objects] == [(8, "bottle", True), (9, "bottle", True)]
    np.testing.assert_array_equal(response.objects[0].bbox, [2, 2, 12, 12])
    assert response.message == "text 'bottle', 'cup': added 8 ('bottle'), 9 ('bottle')"
    assert detector.requests() == [("bottle", "cup")] and detector.calls[-1][1:3] == (0.3, 0.25)
    assert {c[3] for c in detector.calls} == {"sam2_tracking_worker"}  # never an executor thread
    assert labels_of(h, 2) == {7: "plate", 8: "bottle", 9: "bottle"}

    again = track_text(h, "bottle")  # both bottles are tracked: nothing is added
    assert again.success and list(again.object_ids) == [] and "already tracked: 8, 9" in again.message
    cup = track_text(h, "cup", box_threshold=0.1)  # the request's threshold wins
    assert list(cup.object_ids) == [10] and detector.calls[-1][1] == pytest.approx(0.1)
    assert labels_of(h, 3) == {7: "plate", 8: "bottle", 9: "bottle", 10: "cup"}


def test_bad_text_requests_fail_with_the_reason_and_change_nothing(make):
    detector = ScriptedDetector({"bottle": [((2, 2, 12, 12), 0.9)], "ghost": [((100, 100, 120, 120), 0.9)],
                                 "nan": [((math.nan, 0, 5, 5), 0.9)]})  # fmt: skip
    h = make(detector)
    no_image = track_text(h, "bottle")
    assert not no_image.success and "no image received yet" in no_image.message
    h.track(1)
    for text, reason in (("", "holds no phrase"), ("  . ,  ", "holds no phrase")):
        response = track_text(h, text)
        assert not response.success and reason in response.message
    bad_threshold = track_text(h, "bottle", box_threshold=1.5)
    assert not bad_threshold.success and "box_threshold must be between 0 and 1" in bad_threshold.message
    unusable = track_text(h, "ghost. nan")  # outside the 64 x 48 image; a NaN box
    assert unusable.success and list(unusable.object_ids) == []
    assert "lies outside the 64 x 48 image" in unusable.message and "NaN or infinite" in unusable.message
    detector.fail = "CUDA out of memory"
    failed = track_text(h, "bottle")
    assert not failed.success and failed.message == "the detector failed: CUDA out of memory"
    assert labels_of(h, 2) == {}  # nothing tracked changed
    detector.fail = ""
    assert track_text(h, "bottle").success and labels_of(h, 3) == {1: "bottle"}  # and the node goes on
    assert h.node.trigger_deactivate() == SUCCESS
    inactive = track_text(h, "bottle")
    assert not inactive.success and "not active" in inactive.message


def test_without_a_detector_model_text_prompts_fail_naming_the_parameter(make):
    h = make(ScriptedDetector(BOTTLES), detector_model="")
    h.track(1)
    response = track_text(h, "bottle")
    assert not response.success and "the detector_model parameter is empty" in response.message


def test_a_detector_that_fails_to_load_leaves_the_node_running(make, tmp_path):
    missing = str(tmp_path / "no_such_model")
    h = make(detector_factory=make_detector, detector_model=missing, device="cpu")
    line = h.wait_log("text prompts are off", timeout=60)
    assert f"cannot use detector_model '{missing}'" in line and "is not a directory" in line
    h.track(1)
    response = track_text(h, "bottle")
    assert not response.success and "is not a directory" in response.message

    def raising(params):
        raise DetectorError("'x' is not a zero-shot object detector (its model type is 'bert')")

    other = make(detector_factory=raising)
    assert "not a zero-shot object detector" in other.wait_log("text prompts are off")
    other.track(1)
    assert h.add_prompt(1, box=[2, 2, 10, 10]).success  # tracking and prompts go on


def test_a_real_tiny_detector_through_the_default_factory(make, tmp_path):
    from tiny_detectors import save_tiny_owlv2  # sets HF_HUB_OFFLINE=1

    folder = save_tiny_owlv2(tmp_path / "owl")
    h = make(detector_factory=make_detector, detector_model=str(folder), device="cpu")
    h.wait_log(f"text prompts: detector '{folder}' ready", timeout=60)
    h.track(1)
    response = track_text(h, "red mug, bottle", box_threshold=0.01)  # random weights: boxes anywhere
    assert response.success, response.message
    assert response.object_ids and set(response.labels) <= {"red mug", "bottle"}
    _, objects = h.track(2)
    assert [o.id for o in objects.objects] == list(response.object_ids)


def test_tracking_goes_on_while_the_detector_loads(make):
    release = threading.Event()
    detector = ScriptedDetector(BOTTLES)

    def slow_factory(params):
        assert release.wait(60)
        return detector

    h = make(detector_factory=slow_factory)
    h.track(1)  # the loader thread is blocked: frames are still tracked
    response = track_text(h, "bottle")
    assert not response.success and "the detector 'scripted' is still loading" in response.message
    release.set()
    h.wait_log("text prompts: detector 'scripted' ready")
    assert list(track_text(h, "bottle").object_ids) == [1, 2]


def test_continuous_text_keeps_adding_new_instances_until_stop_text(make):
    detector = ScriptedDetector({"bottle": [((2, 2, 12, 12), 0.9)]})
    h = make(detector, text_redetect_period_s=1.0)
    h.track(1)  # frames are stamped 1 s, 2 s, ... (image time)
    response = track_text(h, "bottle", continuous=True)
    assert response.success and list(response.object_ids) == [1]
    assert response.message.endswith("continuous: bottle")
    detector.answers["bottle"].append(((30, 5, 40, 20), 0.8))  # a second bottle comes into view
    h.track(2)
    h.wait_log("continuous text: added 2 ('bottle')")
    assert labels_of(h, 3) == {1: "bottle", 2: "bottle"}
    stopped = h.call(h.stop_client, Trigger.Request())  # runs on the worker, after frame 3's re-detection
    assert stopped.success and stopped.message == "stopped continuous text: 'bottle'"
    calls = len(detector.requests())
    detector.answers["bottle"].append(((50, 30, 60, 40), 0.8))
    h.track(5)
    h.track(6)
    assert len(detector.requests()) == calls and labels_of(h, 7) == {1: "bottle", 2: "bottle"}
    assert h.call(h.stop_client, Trigger.Request()).message == "no continuous text was active"


def test_text_prompts_topic_adds_objects_and_logs_bad_text(make):
    h = make(ScriptedDetector(BOTTLES))
    h.track(1)
    h.text_pub.publish(String(data="bottle"))
    h.wait_log("text 'bottle': added 1 ('bottle'), 2 ('bottle')")
    h.text_pub.publish(String(data=" . "))
    assert "holds no phrase" in h.wait_log("text prompt ' . ' rejected")
    assert labels_of(h, 2) == {1: "bottle", 2: "bottle"}


# --- detections (vision_msgs/Detection2DArray) -----------------------------------------------
def detections_msg(sec: int, *boxes):
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

    msg = Detection2DArray()
    msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, 500, "cam"
    for (x0, y0, x1, y1), class_id, score in boxes:
        detection = Detection2D()
        detection.bbox.center.position.x, detection.bbox.center.position.y = (x0 + x1) / 2, (y0 + y1) / 2
        detection.bbox.size_x, detection.bbox.size_y = float(x1 - x0), float(y1 - y0)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = class_id, score
        detection.results = [hypothesis]
        msg.detections.append(detection)
    return msg


needs_vision_msgs = pytest.mark.skipif(Detection2DArray is None, reason="vision_msgs (or its stand-in) not built")


@needs_vision_msgs
def test_detections_start_tracks_ignore_or_refresh_matches_and_reject_bad_boxes(make, ros):
    h = make(detector_model="", detections_enabled=True, detection_classes=["person"], detection_min_score=0.5)
    publisher = ros.probe.create_publisher(Detection2DArray, f"{h.ns}/detections", 10)
    h._entities.append((ros.probe.destroy_publisher, publisher))
    wait_until(lambda: publisher.get_subscription_count() > 0, what="detections matched")
    h.track(1)
    publisher.publish(detections_msg(1, ((2, 2, 12, 12), "person", 0.9), ((30, 5, 40, 20), "dog", 0.9),
                                     ((40, 30, 50, 40), "person", 0.3)))  # fmt: skip
    h.wait_log("detections: added 1 ('person')")
    assert labels_of(h, 2) == {1: "person"}  # the dog is not a detection class, 0.3 is under the least score

    publisher.publish(detections_msg(2, ((3, 2, 12, 12), "person", 0.9), ((20, 20, 30, 30), "person", 0.8)))
    h.wait_log("detections: added 2 ('person')")  # object 1 matched: ignored
    publisher.publish(detections_msg(77, ((40, 30, 50, 40), "person", 0.9)))  # an image never received
    assert "no recently received image" in h.wait_log("detections ignored: stamped 77.000")
    publisher.publish(detections_msg(2, ((100, 100, 120, 120), "person", 0.9), ((math.inf, 0, 5, 5), "person", 0.9)))
    h.wait_log("lies outside the 64 x 48 image")
    assert "NaN or infinite" in h.wait_log("detection not used: 'person': box [inf")
    assert labels_of(h, 3) == {1: "person", 2: "person"}  # nothing changed

    assert h.node.set_parameters([Parameter("detections_refresh", value=True)])[0].successful
    publisher.publish(detections_msg(3, ((2, 2, 16, 16), "person", 0.9)))
    h.wait_log("detections: refreshed 1")
    label, _ = h.track(4)
    assert (image_to_array(label)[2:16, 2:16] == 1).all()  # the fake grows object 1 to the new box


def test_without_vision_msgs_the_node_says_so_once_and_runs(make, monkeypatch):
    for name in ("vision_msgs", "vision_msgs.msg"):
        monkeypatch.setitem(sys.modules, name, None)  # hidden: importing it raises ImportError
    assert detection_array_type() is None
    h = make(ScriptedDetector(BOTTLES), detections_enabled=True)
    h.wait_log("vision_msgs is not installed")
    h.track(1)
    assert track_text(h, "bottle").success and labels_of(h, 2) == {1: "bottle", 2: "bottle"}
    said = [line for line in h.log_lines() if "vision_msgs is not installed" in line]
    assert said == [
        "vision_msgs is not installed: the detections input (vision_msgs/Detection2DArray) is off although"
        " detections_enabled is true"
    ]
    assert h.node._detections.subscription is None


# --- the stand-in package stays out of users' builds ----------------------------------------------
def test_colcon_never_builds_the_vision_msgs_standin(tmp_path):
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip("colcon is not in this environment")
    (tmp_path / "src").mkdir()
    os.symlink(ROOT, tmp_path / "src" / "sam2_ros")  # a workspace that contains this repository

    def listed(*args: str) -> str:
        run = subprocess.run([str(colcon), "list", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout

    assert [line.split()[0] for line in listed().splitlines()] == ["sam2_ros"]
    assert listed("--base-paths", "src/sam2_ros/test") == ""  # even crawling the test folder itself
    assert (ROOT / "test" / "vision_msgs_standin" / "COLCON_IGNORE").exists()
    for name in ("package.xml", "CMakeLists.txt"):
        assert "vision_msgs" not in (ROOT / name).read_text(), f"{name} must not need vision_msgs"


def test_new_parameters_are_checked_when_set(make):
    h = make(ScriptedDetector(), start=False)
    node = h.node

    def outcome(name, value):
        result = node.set_parameters([Parameter(name, value=value)])[0]
        return result.successful, result.reason

    assert outcome("detection_classes", ["person", "cup"]) == (True, "")
    assert outcome("detection_classes", "person, cup") == (True, "")
    ok, reason = outcome("detection_classes", 5)
    assert not ok and "detection_classes must be a string array or a comma-separated string" in reason
    ok, reason = outcome("detector_device", "gpu")
    assert not ok and "detector_device must be empty (the tracker's device)" in reason
    assert outcome("detector_device", "cuda:1") == (True, "")
    assert not outcome("box_threshold", 1.5)[0] and not outcome("text_match_iou", -0.1)[0]
    assert outcome("text_redetect_period_s", 0.0) == (True, "")
    h.configure()
    ok, reason = outcome("detector_model", "other")
    assert not ok and "detector_model is read when configuring" in reason
