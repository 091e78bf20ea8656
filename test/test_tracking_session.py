# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""TrackingSession bookkeeping around a (fake) tracker: labels, ids, reset, warm-up (no rclpy)."""

from __future__ import annotations

import numpy as np
import pytest
from fake_tracker import FakeTracker
from std_msgs.msg import Header

from sam2_ros.prompts import PromptSpec
from sam2_ros.tracking_session import Frame, TrackingSession


def frame(stamp_ns: int = 1, width: int = 32, height: int = 24) -> Frame:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)[:, :, ::-1]  # a strided view, as bgr8 gives
    return Frame(Header(frame_id="cam"), rgb, receipt_ns=0, stamp_ns=stamp_ns)


def point(object_id: int, x: float, y: float, label: str = "") -> PromptSpec:
    return PromptSpec(object_id, label, np.array([[x, y]], np.float32), np.array([1], np.int32))


def test_track_then_prompts_keep_labels_and_order():
    session = TrackingSession(FakeTracker())
    with pytest.raises(ValueError, match="no image received yet"):
        session.add_prompt(point(1, 5, 5))
    session.track(frame(stamp_ns=5))
    assert (session.frame.width, session.frame.height, session.frame.stamp_ns, session.frame.frame_id) == (
        32, 24, 5, "cam",
    )  # fmt: skip
    result = session.add_prompt(point(4, 5, 5, "cup"))
    assert result.obj_ids == [4] and result.masks[0, 5, 5]
    session.add_prompt(point(2, 20, 10, "plate"))
    session.add_prompt(point(4, 6, 6))  # refinement with an empty label keeps "cup"
    assert session.names == {4: "cup", 2: "plate"}
    assert session.last_added == 2 and session.next_object_id() == 5
    session.add_prompt(point(4, 6, 6, "mug"))
    assert session.names[4] == "mug"


def test_remove_and_reset():
    tracker = FakeTracker()
    session = TrackingSession(tracker)
    session.track(frame())
    session.add_prompt(point(1, 5, 5))
    session.add_prompt(point(2, 20, 10))
    with pytest.raises(KeyError, match="unknown object id 9; tracked ids: \\[1, 2\\]"):
        session.remove(9)
    session.remove(2)
    assert session.object_ids == [1] and session.last_added == 1 and list(tracker.objects) == [1]
    assert session.reset() == 1
    assert session.object_ids == [] and session.next_object_id() == 1
    # The fake's reset also forgets the frame; the session gives it the latest frame back.
    result = session.add_prompt(point(3, 5, 5))
    assert result.obj_ids == [3] and tracker.calls[-2][0] == "track"


def test_warmup_leaves_the_tracker_reset_and_refuses_with_objects():
    tracker = FakeTracker()
    session = TrackingSession(tracker)
    session.warmup(64, 48)
    assert [c[0] for c in tracker.calls] == ["track", "add_prompt", "track", "reset"]
    assert tracker.objects == {} and session.frame is None
    session.track(frame())
    session.add_prompt(point(1, 5, 5))
    with pytest.raises(ValueError, match="would forget the tracked objects"):
        session.warmup()


def test_a_failed_frame_keeps_the_objects_and_prompts_still_apply(monkeypatch):
    """The real Tracker failing mid-step (a simulated CUDA out-of-memory): the error reaches the
    caller, the objects stay, and the next prompt applies to the latest good image."""
    import torch
    from micro_model import micro_config

    from sam2_core import Tracker, build_model
    from sam2_core.config import register_model

    register_model(micro_config("session_test_micro"))
    torch.manual_seed(0)
    model = build_model("session_test_micro")
    session = TrackingSession(Tracker(model))
    session.track(frame(stamp_ns=1))
    session.add_prompt(point(1, 5, 5, "cup"))

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    with monkeypatch.context() as m:
        m.setattr(model, "attend_to_memory", out_of_memory)
        with pytest.raises(torch.cuda.OutOfMemoryError):
            session.track(frame(stamp_ns=2))
    assert session.frame.stamp_ns == 1 and session.names == {1: "cup"}
    result = session.add_prompt(point(2, 20, 10, "plate"))  # re-tracks stamp 1's image, then prompts
    assert list(result.obj_ids) == [1, 2] and session.names == {1: "cup", 2: "plate"}
    assert list(session.track(frame(stamp_ns=3)).obj_ids) == [1, 2]


def test_latest_result_follows_the_objects():
    session = TrackingSession(FakeTracker())
    assert session.latest_result is None and session.latest_rgb is None
    tracked = session.track(frame())
    assert session.latest_result is tracked and session.latest_rgb.shape == (24, 32, 3)
    prompted = session.add_prompt(point(1, 5, 5))
    assert session.latest_result is prompted and session.latest_result.obj_ids == [1]
    session.remove(1)
    assert session.latest_result is None  # no longer describes the objects
    session.add_prompt(point(2, 5, 5))
    assert session.latest_result.obj_ids == [2]
    session.reset()
    assert session.latest_result is None and session.latest_rgb is not None
