# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Warnings logged at most once per period for each reason, so a bad stream cannot flood the log."""

from __future__ import annotations

import time
from typing import Any

WARNING_PERIOD_S = 5.0
MAX_REASONS = 256  # distinct reasons remembered; beyond that the memory starts afresh


class ThrottledWarnings:
    """``warn(text)`` logs ``text`` unless the same reason was logged less than ``period_s`` ago.

    The reason is the text itself unless ``reason`` is given (for texts that carry changing numbers).
    """

    def __init__(self, logger: Any, period_s: float = WARNING_PERIOD_S) -> None:
        self._logger = logger
        self._period_s = period_s
        self._last: dict[str, float] = {}

    def warn(self, text: str, reason: str | None = None) -> bool:
        """Log ``text`` as a warning unless its reason was logged within the period; True when logged."""
        key = text if reason is None else reason
        now = time.monotonic()
        if now - self._last.get(key, -self._period_s) < self._period_s:
            return False
        if len(self._last) >= MAX_REASONS:
            self._last.clear()
        self._last[key] = now
        self._logger.warning(text)
        return True
