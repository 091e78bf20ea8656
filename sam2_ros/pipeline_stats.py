# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's diagnostics: input/output rates, drops, rejections, transport losses, latency, memory, and their status.

Thread-safe counters (the executor counts inputs, the worker counts outputs). No rclpy.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue


@dataclass(frozen=True)
class StatsSnapshot:
    """Rates over the recent window; counts since the last reset; latency receipt -> publish."""

    input_rate_hz: float
    output_rate_hz: float
    received: int
    processed: int
    dropped: int
    rejected: int
    latency_p50_ms: float
    latency_max_ms: float
    objects: int
    seconds_since_input: float | None
    lost_in_transport: int = 0  # reported lost by the middleware before they reached the node


def _rate(stamps: deque[int], now_ns: int, window_ns: int) -> float:
    recent = [t for t in stamps if now_ns - t <= window_ns]
    if len(recent) < 2 or recent[-1] == recent[0]:
        return 0.0
    return (len(recent) - 1) / ((recent[-1] - recent[0]) * 1e-9)


class PipelineStats:
    """Counts frames through the node. Times are ``time.monotonic_ns()`` values."""

    def __init__(self, *, window_s: float = 5.0, latency_samples: int = 300) -> None:
        self._lock = threading.Lock()
        self._window_ns = int(window_s * 1e9)
        self._latency_samples = latency_samples
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._inputs: deque[int] = deque(maxlen=1000)
            self._outputs: deque[int] = deque(maxlen=1000)
            self._latencies_ns: deque[int] = deque(maxlen=self._latency_samples)
            self._received = self._processed = self._dropped = self._rejected = 0
            self._objects = 0
            self._lost_in_transport = 0

    def received(self, now_ns: int) -> None:
        with self._lock:
            self._received += 1
            self._inputs.append(now_ns)

    def dropped(self, count: int = 1) -> None:
        with self._lock:
            self._dropped += count

    def rejected(self) -> None:
        with self._lock:
            self._rejected += 1

    def lost_in_transport(self, count: int) -> None:
        with self._lock:
            self._lost_in_transport += count

    def published(self, receipt_ns: int, now_ns: int, objects: int) -> None:
        with self._lock:
            self._processed += 1
            self._outputs.append(now_ns)
            self._latencies_ns.append(now_ns - receipt_ns)
            self._objects = objects

    def snapshot(self, now_ns: int) -> StatsSnapshot:
        with self._lock:
            latencies = sorted(self._latencies_ns)
            p50 = latencies[(len(latencies) - 1) // 2] * 1e-6 if latencies else 0.0
            return StatsSnapshot(
                input_rate_hz=_rate(self._inputs, now_ns, self._window_ns),
                output_rate_hz=_rate(self._outputs, now_ns, self._window_ns),
                received=self._received,
                processed=self._processed,
                dropped=self._dropped,
                rejected=self._rejected,
                latency_p50_ms=p50,
                latency_max_ms=latencies[-1] * 1e-6 if latencies else 0.0,
                objects=self._objects,
                seconds_since_input=(now_ns - self._inputs[-1]) * 1e-9 if self._inputs else None,
                lost_in_transport=self._lost_in_transport,
            )


def device_memory_bytes(device: str) -> tuple[str, int | None]:
    """(what was measured, bytes): CUDA memory allocated by PyTorch, else this process's resident memory."""
    torch = sys.modules.get("torch")  # never import torch just to report on it
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        return "cuda_allocated", int(torch.cuda.memory_allocated(device))
    try:
        with open("/proc/self/statm") as statm:
            return "process_resident", int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return "process_resident", None


def diagnostic_status(
    name: str, snap: StatsSnapshot, *, device: str, image_topic: str, stale_after_s: float = 5.0
) -> DiagnosticStatus:
    """The /diagnostics entry: WARN when no image came for ``stale_after_s``, else OK; with the counts."""
    memory_kind, memory = device_memory_bytes(device)
    status = DiagnosticStatus(name=name, hardware_id=device)
    if snap.seconds_since_input is None or snap.seconds_since_input > stale_after_s:
        status.level = DiagnosticStatus.WARN
        status.message = f"no images received on {image_topic} recently"
    else:
        status.level = DiagnosticStatus.OK
        status.message = f"tracking {snap.objects} object(s) at {snap.output_rate_hz:.1f} Hz"
    values = {
        "input_rate_hz": f"{snap.input_rate_hz:.2f}",
        "output_rate_hz": f"{snap.output_rate_hz:.2f}",
        "frames_received": snap.received,
        "frames_processed": snap.processed,
        "frames_dropped": snap.dropped,
        "frames_rejected": snap.rejected,
        "frames_lost_in_transport": snap.lost_in_transport,
        "latency_p50_ms": f"{snap.latency_p50_ms:.1f}",
        "latency_max_ms": f"{snap.latency_max_ms:.1f}",
        "objects": snap.objects,
        f"memory_{memory_kind}_mb": "unknown" if memory is None else f"{memory / 2**20:.1f}",
    }
    status.values = [KeyValue(key=key, value=str(value)) for key, value in values.items()]
    return status
