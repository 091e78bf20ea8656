# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The worker thread: drop-oldest frames, ordered commands, one job at a time, clean stop (no rclpy)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from sam2_ros.pipeline_stats import PipelineStats, device_memory_bytes, diagnostic_status
from sam2_ros.tracking_worker import TrackingWorker, WorkerStopped


class Recorder:
    """process_frame that logs what ran, can block until released, and checks for overlap."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.inside = 0
        self.overlapped = False

    def frame(self, item: str) -> None:
        self.job(f"frame {item}")

    def job(self, name: str) -> str:
        self.inside += 1
        self.overlapped |= self.inside > 1
        self.started.set()
        self.gate.wait(5)
        self.log.append(name)
        self.inside -= 1
        return name


@pytest.fixture
def recorder_and_worker():
    recorder = Recorder()
    worker = TrackingWorker(recorder.frame)
    worker.start()
    yield recorder, worker
    recorder.gate.set()
    assert worker.stop(5)


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_frames_arriving_while_busy_replace_the_waiting_one(recorder_and_worker):
    recorder, worker = recorder_and_worker
    recorder.gate.clear()
    assert worker.submit_frame("a") is False
    recorder.started.wait(5)  # "a" is in progress
    assert worker.submit_frame("b") is False  # the slot was empty
    assert worker.submit_frame("c") is True  # replaces b: dropped
    assert worker.submit_frame("d") is True  # replaces c: dropped
    recorder.gate.set()
    wait_until(lambda: len(recorder.log) == 2)
    time.sleep(0.05)
    assert recorder.log == ["frame a", "frame d"]


def test_a_command_runs_after_the_frame_pending_when_it_came_and_before_later_frames(recorder_and_worker):
    recorder, worker = recorder_and_worker
    recorder.gate.clear()
    worker.submit_frame("1")
    recorder.started.wait(5)
    worker.submit_frame("2")  # pending when the command arrives
    future = worker.submit(lambda: recorder.job("command"))
    worker.submit_frame("3")  # replaces 2, but arrived after the command
    recorder.gate.set()
    assert future.result(5) == "command"
    wait_until(lambda: len(recorder.log) == 3)
    assert recorder.log == ["frame 1", "command", "frame 3"]
    assert not recorder.overlapped


def test_commands_run_in_order_one_at_a_time_and_carry_exceptions(recorder_and_worker):
    recorder, worker = recorder_and_worker
    futures = [worker.submit(lambda i=i: recorder.job(f"c{i}")) for i in range(5)]
    assert [f.result(5) for f in futures] == [f"c{i}" for i in range(5)]

    def boom() -> None:
        raise KeyError("unknown object id 9")

    with pytest.raises(KeyError, match="unknown object id 9"):
        worker.call(boom, timeout=5)
    assert worker.call(lambda: 42, timeout=5) == 42  # the loop goes on
    assert not recorder.overlapped


def test_frame_errors_are_reported_and_the_loop_goes_on():
    errors: list[BaseException] = []
    done: list[str] = []

    def process(item: str) -> None:
        if item == "bad":
            raise ValueError("frame must be H x W x 3")
        done.append(item)

    worker = TrackingWorker(process, on_frame_error=errors.append)
    worker.start()
    worker.submit_frame("bad")
    wait_until(lambda: errors)
    worker.submit_frame("good")
    wait_until(lambda: done == ["good"])
    assert isinstance(errors[0], ValueError)
    assert worker.stop(5)


def test_timeout_cancels_a_command_that_has_not_started(recorder_and_worker):
    recorder, worker = recorder_and_worker
    recorder.gate.clear()
    worker.submit_frame("slow")
    recorder.started.wait(5)
    ran = []
    with pytest.raises(TimeoutError):
        worker.call(lambda: ran.append(1), timeout=0.05)
    recorder.gate.set()
    worker.call(lambda: None, timeout=5)
    assert ran == []  # cancelled before it started


def test_stop_fails_queued_commands_and_refuses_new_work():
    recorder = Recorder()
    recorder.gate.clear()
    worker = TrackingWorker(recorder.frame)
    with pytest.raises(WorkerStopped):
        worker.submit_frame("not started")
    worker.start()
    worker.submit_frame("busy")
    recorder.started.wait(5)
    queued = worker.submit(lambda: "never")
    threading.Timer(0.1, recorder.gate.set).start()
    assert worker.stop(5)
    with pytest.raises((WorkerStopped, CancelledError)):
        queued.result(1)
    with pytest.raises(WorkerStopped):
        worker.submit(lambda: None)
    assert not worker.running


def test_call_from_the_worker_thread_runs_inline():
    worker = TrackingWorker(lambda item: None)
    worker.start()
    assert worker.call(lambda: worker.call(lambda: "nested", timeout=1), timeout=5) == "nested"
    assert worker.clear_pending() == 0
    assert worker.stop(5)


def test_pipeline_stats_rates_latency_and_counts():
    stats = PipelineStats(window_s=10.0)
    for i in range(11):  # 10 Hz in, one output per input with 20 + i ms latency
        t = i * 100_000_000
        stats.received(t)
        stats.published(t, t + (20 + i) * 1_000_000, objects=2)
    stats.dropped(3)
    stats.rejected()
    snap = stats.snapshot(1_000_000_000 + 30_000_000)
    assert snap.input_rate_hz == pytest.approx(10.0)
    assert snap.output_rate_hz == pytest.approx(1000 / 101)  # outputs 101 ms apart (latency grows 1 ms)
    assert (snap.received, snap.processed, snap.dropped, snap.rejected, snap.objects) == (11, 11, 3, 1, 2)
    assert snap.latency_p50_ms == pytest.approx(25.0) and snap.latency_max_ms == pytest.approx(30.0)
    assert snap.seconds_since_input == pytest.approx(0.03)
    stats.reset()
    empty = stats.snapshot(0)
    assert empty.received == 0 and empty.input_rate_hz == 0.0 and empty.seconds_since_input is None
    kind, value = device_memory_bytes("cpu")
    assert kind == "process_resident" and value > 0


def test_diagnostic_status_reports_counts_or_warns_without_input():
    stats = PipelineStats()
    stats.received(0)
    stats.published(0, 40_000_000, objects=3)
    status = diagnostic_status("/sam2_tracker: tracking", stats.snapshot(100_000_000), device="cpu", image_topic="/cam")
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.OK and status.message.startswith("tracking 3 object(s)")
    assert (status.name, status.hardware_id) == ("/sam2_tracker: tracking", "cpu")
    assert values["frames_processed"] == "1" and values["latency_max_ms"] == "40.0" and values["objects"] == "3"
    assert float(values["memory_process_resident_mb"]) > 0
    stale = diagnostic_status("n", stats.snapshot(10_000_000_000), device="cpu", image_topic="/cam")
    assert stale.level == DiagnosticStatus.WARN and stale.message == "no images received on /cam recently"
