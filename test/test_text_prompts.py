# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pure parts of text prompts and detector boxes: phrases, continuous state, boxes, matching, vision_msgs conversion."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from fake_tracker import FakeTracker
from std_msgs.msg import Header

from sam2_core.detection import match_phrase
from sam2_ros.outputs import object_geometry
from sam2_ros.prompts import PromptSpec
from sam2_ros.seeding.box_rules import (
    BoxCandidate,
    BoxPrompter,
    BoxPromptError,
    box_iou,
    check_box,
    label_boxes,
    match_candidates,
)
from sam2_ros.seeding.detections import candidates_from_detections, detection_box, parse_classes
from sam2_ros.seeding.phrases import ActivePhrases, TextPromptError, check_threshold, parse_phrases
from sam2_ros.tracking_session import Frame, TrackingSession


# --- phrases ------------------------------------------------------------------------------
def test_phrases_split_at_dots_and_commas_without_empties_or_repeats():
    assert parse_phrases("red mug. bottle") == ["red mug", "bottle"]
    assert parse_phrases("  red   mug ,bottle.,. Red Mug .\tcup\n") == ["red mug", "bottle", "cup"]
    assert parse_phrases("ellipse") == ["ellipse"]
    for bad in ("", "   ", " . , .", "\n\t"):
        with pytest.raises(TextPromptError, match="holds no phrase; give one or more phrases"):
            parse_phrases(bad)


def test_thresholds_must_lie_in_zero_to_one():
    assert check_threshold(0.25, "box_threshold") == 0.25
    for bad in (-0.1, 1.5, math.nan, math.inf):
        with pytest.raises(TextPromptError, match="box_threshold must be between 0 and 1"):
            check_threshold(bad, "box_threshold")


def test_active_phrases_are_due_after_their_period_of_image_time():
    active = ActivePhrases()
    assert not active and not active.due(10, 1.0)
    active.add(["bottle"], None, detected_at_ns=5_000_000_000)
    active.add(["cup", "Bottle"], 0.6, detected_at_ns=None)  # "Bottle" is the active "bottle"
    assert active.phrases == ["bottle", "cup"] and active.last_detection_ns == 5_000_000_000
    assert active.threshold_of("bottle", 0.3) == 0.6 and active.threshold_of("cup", 0.3) == 0.6
    assert not active.due(5_900_000_000, 1.0)
    assert active.due(6_000_000_000, 1.0)
    assert active.due(4_000_000_000, 1.0)  # time ran backwards (a bag restarted)
    assert active.due(5_000_000_000, 0.0)  # period 0: every frame
    assert active.clear() == ["bottle", "cup"] and not active and active.last_detection_ns is None


# --- boxes --------------------------------------------------------------------------------
def test_boxes_are_clipped_to_the_image_or_rejected_with_the_reason():
    assert check_box([-5, 2, 10, 30], 20, 16) == (0.0, 2.0, 10.0, 16.0)
    with pytest.raises(BoxPromptError, match="NaN or infinite"):
        check_box([0, 0, math.nan, 4], 20, 16)
    with pytest.raises(BoxPromptError, match="NaN or infinite"):
        check_box([0, 0, math.inf, 4], 20, 16)
    with pytest.raises(BoxPromptError, match="inverted or empty"):
        check_box([5, 5, 5, 9], 20, 16)
    with pytest.raises(BoxPromptError, match="lies outside the 20 x 16 image"):
        check_box([25, 2, 30, 8], 20, 16)
    with pytest.raises(BoxPromptError, match="4 values"):
        check_box([1, 2, 3], 20, 16)


def test_box_iou():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_label_boxes_are_the_boxes_every_output_publishes_without_specks():
    labels = np.zeros((30, 40), np.uint16)
    labels[3:9, 5:12] = 2
    labels[20:25, 30:40] = 7
    labels[18:20, 31:33] = 7  # a second part touching it diagonally: part of the object
    boxes = label_boxes(labels, [2, 7, 9])
    assert set(boxes) == {2, 7}
    for object_id, box in boxes.items():
        assert box == object_geometry(labels, object_id).bbox
    labels[0, 39] = 2  # one stray pixel far away (1 of 43 pixels): ~/objects' box takes it in, matching does not
    assert object_geometry(labels, 2).bbox == (5.0, 0.0, 40.0, 9.0)
    assert label_boxes(labels, [2])[2] == (5.0, 3.0, 12.0, 9.0)
    labels[26:30, 0:3] = 2  # 12 pixels: a real part (over 5% of the largest), kept; the speck is not
    assert label_boxes(labels, [2])[2] == (0.0, 3.0, 12.0, 30.0)


def test_candidates_match_tracked_objects_of_their_label_once_and_duplicates_collapse():
    tracked = {1: ("bottle", (0.0, 0.0, 10.0, 10.0)), 2: ("cup", (20.0, 0.0, 30.0, 10.0))}
    candidates = [
        BoxCandidate((1, 0, 10, 10), "bottle", 0.9),  # repeats object 1
        BoxCandidate((20, 0, 30, 10), "bottle", 0.8),  # overlaps the cup, but another label: new
        BoxCandidate((21, 0, 30, 10), "bottle", 0.7),  # a second box of that new bottle: collapses into it
        BoxCandidate((0, 0, 9, 10), "bottle", 0.6),  # object 1 is already matched: new
        BoxCandidate((50, 0, 60, 10), "cup", 0.95),
    ]
    planned = match_candidates(candidates, tracked, match_iou=0.5)
    # 0.7 repeats the new 0.8 bottle and 0.6 repeats object 1: neither is planned
    assert [(c.score, target) for c, target in planned] == [(0.95, None), (0.9, 1), (0.8, None)]
    assert match_candidates(candidates, tracked, match_iou=0.95)[1] == (candidates[0], None)  # stricter: new
    shouted = [BoxCandidate((1, 0, 10, 10), "Bottle", 0.9)]
    assert match_candidates(shouted, tracked, match_iou=0.5) == [(shouted[0], 1)]  # labels ignore case


# --- BoxPrompter on a session ----------------------------------------------------------------
def session_with_frame(width: int = 40, height: int = 30) -> TrackingSession:
    session = TrackingSession(FakeTracker())
    session.track(Frame(Header(), np.zeros((height, width, 3), np.uint8), 0, 1))
    return session


def test_box_prompter_adds_new_objects_above_the_largest_id_and_skips_tracked_ones():
    session = session_with_frame()
    session.add_prompt(PromptSpec(5, "cup", box=np.array([20, 0, 30, 10], np.float32)))
    prompter = BoxPrompter(session)
    outcome = prompter.apply(
        [
            BoxCandidate((20, 0, 30, 10), "cup", 0.9),  # object 5
            BoxCandidate((0, 0, 10, 10), "bottle", 0.8),
            BoxCandidate((30, 20, 50, 40), "bottle", 0.7),  # partly outside: clipped
            BoxCandidate((0, 0, math.nan, 4), "bottle", 0.6),
            BoxCandidate((0, 0, 10, 10), "bottle", 0.5),  # the same bottle again
        ],
        match_iou=0.5,
        max_objects=8,
    )
    assert outcome.added == [6, 7] and outcome.already_tracked == [5] and outcome.refreshed == []
    assert session.names == {5: "cup", 6: "bottle", 7: "bottle"}
    assert len(outcome.rejected) == 1 and "NaN or infinite" in outcome.rejected[0]
    assert session.tracker.objects[7][20:30, 30:40].all()  # the clipped box
    assert "added 6 ('bottle'), 7 ('bottle')" in outcome.summary(session.names)
    # again: everything is tracked now, nothing changes
    again = prompter.apply([BoxCandidate((0, 0, 10, 10), "bottle", 0.8)], match_iou=0.5, max_objects=8)
    assert again.added == [] and again.already_tracked == [6] and again.result is None


def test_box_prompter_refreshes_matches_and_respects_max_objects():
    session = session_with_frame()
    prompter = BoxPrompter(session)
    prompter.apply([BoxCandidate((0, 0, 10, 10), "person", 0.9)], match_iou=0.5, max_objects=2)
    refreshed = prompter.apply(
        [BoxCandidate((0, 0, 12, 12), "person", 0.9), BoxCandidate((20, 0, 30, 10), "person", 0.8),
         BoxCandidate((0, 20, 10, 30), "person", 0.7)],
        match_iou=0.5, max_objects=2, refresh=True,
    )  # fmt: skip
    assert refreshed.refreshed == [1] and refreshed.added == [2]
    assert session.tracker.objects[1][:12, :12].all() and session.names[1] == "person"
    assert "max_objects" in refreshed.rejected[0]


def test_box_prompter_keeps_and_reports_what_it_added_when_the_tracker_fails_on_a_box():
    session = session_with_frame()
    prompter = BoxPrompter(session)
    add_prompt, calls = session.add_prompt, []

    def failing_second(spec):
        calls.append(spec.object_id)
        if len(calls) == 2:
            raise RuntimeError("CUDA out of memory")
        return add_prompt(spec)

    session.add_prompt = failing_second
    outcome = prompter.apply(
        [BoxCandidate((0, 0, 10, 10), "cup", 0.9), BoxCandidate((20, 0, 30, 10), "cup", 0.8),
         BoxCandidate((0, 20, 10, 30), "cup", 0.7)],
        match_iou=0.5, max_objects=8,
    )  # fmt: skip
    assert outcome.added == [1, 2] and session.object_ids == [1, 2]  # the failed box took no id
    assert outcome.rejected == ["'cup': the tracker failed: RuntimeError: CUDA out of memory"]


def test_box_prompter_knows_tracked_boxes_after_a_removal_and_refuses_when_it_cannot():
    session = session_with_frame()
    prompter = BoxPrompter(session)
    prompter.apply([BoxCandidate((0, 0, 10, 10), "a", 1.0), BoxCandidate((20, 0, 30, 10), "a", 0.9)], match_iou=0.5,
                   max_objects=8)  # fmt: skip
    prompter.note_frame(session.track(Frame(Header(), np.zeros((30, 40, 3), np.uint8), 0, 2)))
    session.remove(2)
    assert session.latest_result is None
    assert prompter.tracked() == {1: ("a", (0.0, 0.0, 10.0, 10.0))}
    # an object added and another removed since the frame: its box is unknown, nothing changes
    session.add_prompt(PromptSpec(9, "b", box=np.array([0, 20, 10, 30], np.float32)))
    session.remove(1)
    with pytest.raises(BoxPromptError, match=r"boxes of objects \[9\] .* not known yet"):
        prompter.apply([BoxCandidate((0, 20, 10, 30), "b", 1.0)], match_iou=0.5, max_objects=8)
    assert session.object_ids == [9]
    with pytest.raises(BoxPromptError, match="no image received yet"):
        BoxPrompter(TrackingSession(FakeTracker())).apply([], match_iou=0.5, max_objects=8)


# --- the detector's labels -------------------------------------------------------------------
def test_detector_labels_map_to_the_requested_phrases():
    phrases = ["red mug", "mug", "bottle"]
    assert match_phrase(2, phrases) == "bottle" and match_phrase(5, phrases) is None
    assert match_phrase("bottle", phrases) == "bottle"
    assert match_phrase("red mug", phrases) == "red mug"
    assert match_phrase("mug", phrases) == "mug"
    assert match_phrase("red", phrases) == "red mug"
    assert match_phrase("red mug. bottle. [SEP]", phrases, ["[SEP]"]) == "red mug"  # most words shared
    assert match_phrase("[SEP]", ["sep"], ["[SEP]"]) is None
    assert match_phrase("", phrases) is None and match_phrase("cat", phrases) is None


# --- vision_msgs conversion (message-like objects: no vision_msgs needed) --------------------
def bbox(cx, cy, sx, sy, theta=0.0):
    return SimpleNamespace(center=SimpleNamespace(position=SimpleNamespace(x=cx, y=cy), theta=theta),
                           size_x=sx, size_y=sy)  # fmt: skip


def detection(box, *hypotheses):
    results = [SimpleNamespace(hypothesis=SimpleNamespace(class_id=c, score=s)) for c, s in hypotheses]
    return SimpleNamespace(bbox=box, results=results)


def test_detection_boxes_from_centre_and_size_rotated_ones_enclosed():
    assert detection_box(bbox(10, 20, 4, 6)) == (8.0, 17.0, 12.0, 23.0)
    x0, y0, x1, y1 = detection_box(bbox(10, 10, 4, 2, theta=math.pi / 2))  # a quarter turn swaps the sides
    assert (x0, y0, x1, y1) == pytest.approx((9, 8, 11, 12))


def test_detections_pick_the_best_allowed_class_above_the_least_score():
    msg = SimpleNamespace(detections=[
        detection(bbox(10, 10, 4, 4), ("cup", 0.4), ("person", 0.9)),
        detection(bbox(30, 10, 4, 4), ("person", 0.3)),
        detection(bbox(50, 10, 4, 4), ("dog", 0.8)),
        detection(bbox(70, 10, 4, 4)),  # no hypothesis
        detection(bbox(90, 10, 4, 4), ("cup", math.nan)),
    ])  # fmt: skip
    everything, problems = candidates_from_detections(msg, (), 0.5)
    assert [(c.label, c.score) for c in everything] == [("person", 0.9), ("dog", 0.8)]
    assert problems == ["detection 4 ('cup'): score is nan"]
    cups, _ = candidates_from_detections(msg, ("cup",), 0.0)
    assert [(c.label, c.score, tuple(c.box)) for c in cups] == [("cup", 0.4, (8.0, 8.0, 12.0, 12.0))]
    assert parse_classes("cup, person,,") == ("cup", "person")
    assert parse_classes(["cup", " "]) == ("cup",) and parse_classes("") == () and parse_classes([]) == ()
