# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ThrottledWarnings: once per period per reason, reasons apart, bounded memory."""

from __future__ import annotations

from sam2_ros import throttled_log
from sam2_ros.throttled_log import ThrottledWarnings


class Logger:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, text: str) -> None:
        self.lines.append(text)


def test_once_per_period_per_reason(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(throttled_log.time, "monotonic", lambda: now[0])
    log = Logger()
    warnings = ThrottledWarnings(log, period_s=5.0)
    assert warnings.warn("a") and not warnings.warn("a")
    assert warnings.warn("b")  # another reason is not held back
    assert warnings.warn("depth 3 m", reason="depth") and not warnings.warn("depth 4 m", reason="depth")
    now[0] += 5.0
    assert warnings.warn("a") and warnings.warn("depth 5 m", reason="depth")
    assert log.lines == ["a", "b", "depth 3 m", "a", "depth 5 m"]


def test_memory_is_bounded():
    warnings = ThrottledWarnings(Logger())
    for i in range(throttled_log.MAX_REASONS * 3):
        warnings.warn(f"reason {i}")
    assert len(warnings._last) <= throttled_log.MAX_REASONS
