# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Objects without a prompt: the seeding rules (pure), and ~/segment_everything, discovery and forgetting on the node.

Node tests use the fake tracker and a scripted mask generator, over real DDS in one process. The
scripted generator reads the frame number from the image's first pixel, so what it "finds"
follows the clip, whatever the timing.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_tracker import ABSENT_LOGIT, FakeTracker, fake_factory
from node_harness import Harness, Ros, call, wait_until
from rclpy.parameter import Parameter
from sam2_ros.srv import SegmentEverything
from sensor_msgs.msg import Image

from sam2_ros.image_conversion import fill_image
from sam2_ros.seeding.mask_rules import (
    AbsenceCounter,
    DiscoveryClock,
    SeedingRules,
    min_area_px,
    room_for,
    seed_tracker,
    select_new_masks,
)

H, W = 48, 64


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def record(mask: np.ndarray, iou: float) -> dict:
    return {"segmentation": mask, "area": int(mask.sum()), "predicted_iou": iou}


# --- the rules (no rclpy) -----------------------------------------------------------------------
def test_masks_are_chosen_best_first_and_tracked_small_large_and_nested_ones_skipped():
    owned = box_mask(0, 0, 10, 10)
    records = [
        record(box_mask(2, 2, 10, 10), 0.99),  # inside a tracked object
        record(box_mask(20, 20, 30, 30), 0.80),
        record(box_mask(40, 5, 50, 15), 0.90),
        record(box_mask(0, 30, 3, 33), 0.95),  # 9 px: too small
        record(box_mask(0, 0, 64, 40), 0.97),  # most of the image: a floor
        record(box_mask(21, 21, 29, 29), 0.70),  # a part of the second: tracked once that is chosen
    ]
    rules = SeedingRules(min_area_px=20, max_area_fraction=0.5, max_overlap=0.5)
    sel = select_new_masks(records, owned, rules, limit=10)
    assert [r["predicted_iou"] for r in sel.chosen] == [0.90, 0.80]
    assert (sel.found, sel.tracked, sel.too_small, sel.too_large, sel.over_limit) == (6, 2, 1, 1, 0)
    assert "2 already tracked, 1 too small, 1 too large" in sel.summary()
    limited = select_new_masks(records, owned, rules, limit=1)
    assert [r["predicted_iou"] for r in limited.chosen] == [0.90] and limited.over_limit == 2  # the part too
    assert not owned[25, 25]  # the caller's ownership map is not modified


def test_areas_limits_and_rule_checks():
    assert min_area_px(0.0, 123, (100, 200)) == 123
    assert min_area_px(0.01, 123, (100, 200)) == 200
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="min_area_fraction"):
            min_area_px(bad, 1, (10, 10))
    assert room_for(0, 3, 5) == 2 and room_for(1, 3, 5) == 1 and room_for(9, 3, 5) == 2 and room_for(0, 7, 5) == 0
    with pytest.raises(ValueError, match="max_new_objects"):
        room_for(-1, 0, 5)
    with pytest.raises(ValueError, match="max_overlap"):
        SeedingRules(max_overlap=0.0)


def test_discovery_clock_and_absence_counter():
    clock = DiscoveryClock()
    assert not clock.due(0, 0.0)
    assert clock.due(5_000_000_000, 1.0)  # the first frame after switching on
    clock.ran(5_000_000_000)
    assert not clock.due(5_900_000_000, 1.0) and clock.due(6_000_000_000, 1.0)
    assert clock.due(1_000_000_000, 1.0)  # time went backwards (a replayed bag)
    counter = AbsenceCounter()
    assert counter.update([1, 2], [-1.0, 2.0], 2) == []
    assert counter.update([1, 2], [-1.0, 0.0], 2) == [1]
    assert counter.update([1, 2], [3.0, -1.0], 2) == [2]  # 1 came back: its count restarts
    assert counter.update([2], [-1.0], 0) == []  # 0 = never forget
    assert counter.absent == {2: 3}


def test_seeding_is_all_or_nothing():
    added, removed = [], []
    ids = iter(range(5, 10))

    def add(object_id, mask):
        if len(added) == 2:
            raise RuntimeError("CUDA out of memory")
        added.append(object_id)

    with pytest.raises(RuntimeError, match="out of memory"):
        seed_tracker(add, removed.append, lambda: next(ids), [record(box_mask(0, 0, 5, 5), 0.9)] * 3)
    assert added == [5, 6] and removed == [6, 5]


# --- the node -----------------------------------------------------------------------------------
def numbered_frame(number: int, sec: int, nanosec: int = 0) -> Image:
    """A frame whose first pixel's red value is ``number`` (read back by the scripted generator)."""
    pixels = np.full((H, W, 3), 90, np.uint8)
    pixels[0, 0, 0] = number
    msg = fill_image(Image(), pixels, "rgb8")
    msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, nanosec, "cam"
    return msg


class ScriptedGenerator:
    """A mask_generator_factory: on frame n it finds ``script(n)`` (records), or raises ``error``."""

    def __init__(self, script) -> None:
        self.script = script
        self.calls: list[int] = []
        self.settings = []
        self.error: Exception | None = None

    def __call__(self, tracker, settings):
        self.settings.append(settings)

        def generate(rgb: np.ndarray) -> list[dict]:
            number = int(rgb[0, 0, 0])
            self.calls.append(number)
            if self.error is not None:
                raise self.error
            return self.script(number)

        return generate


class HidingTracker(FakeTracker):
    """The fake tracker, with objects in ``hidden`` reported absent (score <= 0, no pixels)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hidden: set[int] = set()

    def _result(self):
        result = super()._result()
        for row, object_id in enumerate(result.obj_ids):
            if object_id in self.hidden:
                result.object_scores[row] = ABSENT_LOGIT
                result.masks[row] = False
        return result


@pytest.fixture(scope="module")
def ros():
    r = Ros()
    yield r
    r.close()


def track(h: Harness, msg: Image, timeout: float = 60.0):
    """Send a numbered frame (reliable QoS: sent once, never tracked twice) and wait for its objects."""
    stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
    h.send(msg)
    return wait_until(
        lambda: next(
            (m for m in list(h.received["objects"]) if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp), None
        ),
        timeout,
        f"objects stamped {stamp}",
    )


def segment(h: Harness, **fields) -> SegmentEverything.Response:
    return call(
        h.ros, SegmentEverything, f"{h.ns}/sam2_tracker/segment_everything", SegmentEverything.Request(**fields)
    )


STATIC = [
    record(box_mask(2, 2, 12, 12), 0.80),
    record(box_mask(30, 5, 44, 19), 0.95),
    record(box_mask(50, 30, 52, 32), 0.99),  # 4 px: too small for auto_min_area_px 20
    record(box_mask(0, 0, 64, 40), 0.97),  # 83 % of the image: too large
    record(box_mask(20, 28, 34, 42), 0.90),  # where a prompted object already is
]


def test_segment_everything_adds_new_objects_and_fails_cleanly(ros):
    created: list[FakeTracker] = []
    generator = ScriptedGenerator(lambda n: STATIC)
    h = Harness(ros, fake_factory(created), {"mask_generator_factory": generator}, max_objects=4,
                auto_min_area_px=20, auto_points_per_side=8, image_reliability="reliable")  # fmt: skip
    try:
        h.configure()
        reply = segment(h)  # configured, not active
        assert not reply.success and "not active" in reply.message
        h.activate()
        reply = segment(h)
        assert not reply.success and "no image" in reply.message
        track(h, numbered_frame(1, 1))
        assert h.add_prompt(7, box=[20, 28, 33, 41]).success
        reply = segment(h, label="thing")
        assert reply.success, reply.message
        assert list(reply.object_ids) == [8, 9]  # above the largest id in use, best predicted IoU first
        assert [o.id for o in reply.objects] == [8, 9] and {o.label for o in reply.objects} == {"thing"}
        assert [o.area for o in reply.objects] == [14 * 14, 100] and all(o.visible for o in reply.objects)
        assert "5 mask(s) found" in reply.message and "1 already tracked, 1 too small, 1 too large" in reply.message
        assert "generator" in reply.message and generator.settings[-1].points_per_side == 8
        tracker = created[0]
        np.testing.assert_array_equal(tracker.objects[8], box_mask(30, 5, 44, 19))
        objects = track(h, numbered_frame(2, 2)).objects
        assert [(o.id, o.label) for o in objects] == [(7, ""), (8, "thing"), (9, "thing")]
        again = segment(h)
        assert again.success and list(again.object_ids) == [] and "3 already tracked" in again.message
        # the fourth and last slot: max_objects is 4
        generator.script = lambda n: [
            *STATIC,
            record(box_mask(54, 2, 62, 10), 0.5),
            record(box_mask(2, 40, 9, 47), 0.6),
        ]
        limited = segment(h, max_new_objects=1)
        assert limited.success and list(limited.object_ids) == [10] and "1 over the limit" in limited.message
        full = segment(h)
        assert not full.success and "full" in full.message and "max_objects is 4" in full.message
        assert sorted(tracker.objects) == [7, 8, 9, 10]
        assert h.remove(10).success
        for fields, needle in (({"max_new_objects": -1}, "max_new_objects"), ({"min_area_fraction": 2.0}, "min_area")):
            bad = segment(h, **fields)
            assert not bad.success and needle in bad.message, bad.message
        track(h, numbered_frame(3, 3))
        generator.error = RuntimeError("CUDA out of memory")
        failed = segment(h)
        assert not failed.success and "RuntimeError: CUDA out of memory" in failed.message
        assert sorted(tracker.objects) == [7, 8, 9]
        assert not tracker.overlapped and {t for _, t in tracker.calls} == {"sam2_tracking_worker"}
        h.wait_log("segment_everything failed")
    finally:
        h.close()


def test_discovery_tracks_objects_that_appear_and_forgetting_removes_absent_ones(ros):
    created: list[HidingTracker] = []

    def script(n: int) -> list[dict]:
        found = [record(box_mask(2, 2, 12, 12), 0.9)]
        if n >= 4:  # an object enters the view on frame 4
            found.append(record(box_mask(40, 20, 56, 36), 0.8))
        return found

    generator = ScriptedGenerator(script)

    def factory(params):
        created.append(HidingTracker(max_objects=params.max_objects))
        return created[-1]

    # frames every 0.5 s of image time; discovery every 1 s: on frames 0, 2, 4, 6, ...
    h = Harness(ros, factory, {"mask_generator_factory": generator}, discover_period_s=1.0, auto_min_area_px=20,
                diagnostics_period_s=0.2, image_reliability="reliable")  # fmt: skip
    try:
        h.start()
        ids_per_frame = {}
        for n in range(8):
            objects = track(h, numbered_frame(n, 10 + n // 2, 500_000_000 * (n % 2)))
            ids_per_frame[n] = [o.id for o in objects.objects]
        # each frame's objects are published before that frame's discovery runs
        assert ids_per_frame[0] == [] and ids_per_frame[1] == [1]
        assert ids_per_frame[4] == [1] and ids_per_frame[5] == [1, 2]  # found on frame 4, the first run after it came
        assert generator.calls[:4] == [0, 2, 4, 6]
        h.wait_log("discovery added 1 object(s) [2]")
        # forgetting: object 1 reported absent from now on; 3 frames in a row removes it
        h.node.set_parameters([Parameter("forget_after_frames", value=3), Parameter("discover_period_s", value=0.0)])
        created[0].hidden.add(1)
        for n in range(8, 11):
            ids_per_frame[n] = [o.id for o in track(h, numbered_frame(n, 20 + n)).objects]
        h.wait_log("object 1 ('object') forgotten: reported absent 3 frames in a row")
        # the forgetting frame's boxes stay known to box prompts (text, detections) on that frame
        assert h.node._boxes.tracked() == {2: ("object", (40.0, 20.0, 56.0, 36.0))}
        ids_per_frame[11] = [o.id for o in track(h, numbered_frame(11, 31)).objects]
        assert ids_per_frame[8] == [1, 2] and ids_per_frame[10] == [1, 2] and ids_per_frame[11] == [2]
        assert 1 not in created[0].objects

        def forgotten_in_diagnostics():
            for array in list(ros.diagnostics):
                for status in array.status:
                    values = {kv.key: kv.value for kv in status.values}
                    if h.ns in status.name and values.get("objects_forgotten") == "1":
                        return values
            return None

        values = wait_until(forgotten_in_diagnostics, 10.0, "objects_forgotten in /diagnostics")
        assert values["objects_discovered"] == "2" and int(values["discovery_runs"]) >= 4
    finally:
        h.close()
