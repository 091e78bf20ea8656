# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Lost-frame accounting without a graph: counts, the 30 s warning throttle, the fixes named, unsupported RMWs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sam2_ros.pipeline_stats import PipelineStats, diagnostic_status
from sam2_ros.transport_losses import (
    LOSS_WARNING_PERIOD_S,
    LostFrameMonitor,
    UnsupportedEventTypeError,
    loss_warning,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lost(n: int) -> SimpleNamespace:
    """What rclpy hands the message_lost callback (rmw_message_lost_status_t)."""
    return SimpleNamespace(total_count=0, total_count_change=n)


@pytest.fixture
def monitor():
    stats, warnings, clock = PipelineStats(), [], Clock()
    losses = LostFrameMonitor(stats.lost_in_transport, warnings.append, clock=clock)
    losses.restart(topic="/camera/image_raw", image_reliability="best_effort", image_transport="raw")
    return SimpleNamespace(losses=losses, stats=stats, warnings=warnings, clock=clock)


def test_losses_are_counted_into_the_statistics_and_diagnostics(monitor):
    monitor.losses.on_message_lost(lost(3))
    monitor.losses.on_message_lost(lost(2))
    monitor.losses.on_message_lost(lost(0))  # an event without a loss (total_count_change 0) changes nothing
    assert monitor.stats.snapshot(0).lost_in_transport == 5
    status = diagnostic_status("n: tracking", monitor.stats.snapshot(0), device="cpu", image_topic="/camera/image_raw")
    assert {kv.key: kv.value for kv in status.values}["frames_lost_in_transport"] == "5"
    monitor.stats.reset()
    assert monitor.stats.snapshot(0).lost_in_transport == 0


def test_warns_at_once_then_at_most_every_30_s_with_what_was_lost_meanwhile(monitor):
    assert LOSS_WARNING_PERIOD_S == 30.0
    monitor.losses.on_message_lost(lost(2))
    assert len(monitor.warnings) == 1 and monitor.warnings[0].startswith("2 image(s) on /camera/image_raw lost")
    for _ in range(10):
        monitor.clock.now += 2.0
        monitor.losses.on_message_lost(lost(1))
    assert len(monitor.warnings) == 1  # 20 s later: still quiet
    monitor.clock.now += 10.0
    monitor.losses.on_message_lost(lost(4))
    assert len(monitor.warnings) == 2
    assert monitor.warnings[1].startswith("14 image(s) on /camera/image_raw lost in transport (16 since activation")
    monitor.losses.restart(topic="/other", image_reliability="best_effort", image_transport="raw")
    monitor.losses.on_message_lost(lost(1))  # a new activation warns at once again
    assert len(monitor.warnings) == 3 and "(1 since activation" in monitor.warnings[2]


def test_the_warning_names_the_cause_and_only_the_fixes_that_apply():
    text = loss_warning(3, 9, topic="/cam", image_reliability="best_effort", image_transport="raw", period_s=30)
    assert "best effort" in text and "UDP fragments" in text
    assert "image_reliability: reliable" in text and "image_transport: compressed" in text
    assert "/cam/compressed" in text and "net.core.rmem_max" in text
    done = loss_warning(1, 1, topic="/cam", image_reliability="reliable", image_transport="compressed", period_s=30)
    assert "image_reliability: reliable" not in done and "image_transport: compressed" not in done
    assert "net.core.rmem_max" in done


def test_subscribe_asks_for_message_lost_events():
    made = []
    monitor = LostFrameMonitor(lambda n: None, lambda text: None)
    reports: list[str] = []
    subscription = monitor.subscribe(lambda **kw: made.append(kw) or "sub", report=reports.append)
    assert subscription == "sub" and monitor.supported is True and not reports
    (callbacks,) = [kw["event_callbacks"] for kw in made]
    assert callbacks.message_lost == monitor.on_message_lost


def test_where_the_rmw_lacks_the_event_it_subscribes_without_and_says_so_once():
    calls = []

    def create(**kw):
        calls.append(kw)
        if "event_callbacks" in kw:
            raise UnsupportedEventTypeError("message lost event is not supported")
        return "plain subscription"

    reports: list[str] = []
    monitor = LostFrameMonitor(lambda n: None, lambda text: None)
    for _ in range(2):  # two activations
        assert monitor.subscribe(create, report=reports.append, rmw="rmw_example_cpp") == "plain subscription"
    assert monitor.supported is False and len(calls) == 4
    assert reports == [
        "the middleware (rmw_example_cpp) does not report lost messages: frames_lost_in_transport stays 0 and"
        " images lost in transport show only as input_rate_hz below the camera's rate"
    ]
