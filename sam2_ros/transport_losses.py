# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Input frames lost in transport: the RMW's message-lost events on the image subscription, counted and explained.

A best-effort reader that misses one UDP fragment of a large image loses the whole image
before any callback runs; the RMW reports it (``message_lost``) when it notices the gap in
sequence numbers. This module counts those into the node's statistics
(``frames_lost_in_transport`` in /diagnostics) and warns at most once per 30 s with the likely
cause and the fixes. Where the RMW does not offer the event it says so once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

try:  # Iron and newer
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError

from rclpy.utilities import get_rmw_implementation_identifier

LOSS_WARNING_PERIOD_S = 30.0


def loss_warning(
    lost: int, total: int, *, topic: str, image_reliability: str, image_transport: str, period_s: float
) -> str:
    """The warning for ``lost`` frames since the last one (``total`` since activation), with the fixes that apply."""
    fixes = []
    if image_reliability != "reliable":
        fixes.append("image_reliability: reliable if the camera publishes reliably (lost fragments are then resent)")
    if image_transport != "compressed":
        fixes.append(f"image_transport: compressed (subscribes to {topic}/compressed, a fraction of the size)")
    fixes.append(
        "larger socket receive buffers (sysctl net.core.rmem_max; the Fast DDS profile sam2_ros loads asks for"
        " 4 MB), or camera and tracker in one process"
    )
    return (
        f"{lost} image(s) on {topic} lost in transport ({total} since activation; warned at most every"
        f" {period_s:g} s): the middleware dropped them before they reached the node, usually large images sent best"
        " effort whose UDP fragments did not all arrive. Fixes: " + "; ".join(fixes) + "."
    )


def unsupported_message(rmw: str) -> str:
    return (
        f"the middleware ({rmw}) does not report lost messages: frames_lost_in_transport stays 0 and images lost in"
        " transport show only as input_rate_hz below the camera's rate"
    )


class LostFrameMonitor:
    """Counts message-lost events of the image subscription and warns about them, throttled.

    ``count(n)`` adds to the statistics (``PipelineStats.lost_in_transport``); ``warn(text)``
    logs. ``clock`` is seconds (``time.monotonic``). Event callbacks run on the executor.
    """

    def __init__(
        self,
        count: Callable[[int], None],
        warn: Callable[[str], None],
        *,
        period_s: float = LOSS_WARNING_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count
        self._warn = warn
        self._period_s = period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._context: dict[str, str] = {}
        self.supported: bool | None = None  # None until a subscription was made
        self.restart()

    def restart(self, **context: str) -> None:
        """A new activation: counts since activation restart; ``context``: topic, image_reliability, image_transport."""
        with self._lock:
            self._context = dict(context)
            self._total = self._unwarned = 0
            self._last_warning: float | None = None

    def on_message_lost(self, info: Any) -> None:
        """The ``message_lost`` callback; ``info.total_count_change`` messages were lost since the last event."""
        lost = int(getattr(info, "total_count_change", 0))
        if lost <= 0:
            return
        self._count(lost)
        now = self._clock()
        with self._lock:
            self._total += lost
            self._unwarned += lost
            if self._last_warning is not None and now - self._last_warning < self._period_s:
                return
            self._last_warning, lost, self._unwarned = now, self._unwarned, 0
            total, context = self._total, dict(self._context)
        self._warn(
            loss_warning(
                lost,
                total,
                topic=context.get("topic", "the image topic"),
                image_reliability=context.get("image_reliability", "best_effort"),
                image_transport=context.get("image_transport", "raw"),
                period_s=self._period_s,
            )
        )

    def subscribe(self, create: Callable[..., Any], *, report: Callable[[str], None], rmw: str | None = None) -> Any:
        """``create(event_callbacks=...)`` with a message_lost callback; ``create()`` where the RMW lacks the event.

        ``report`` gets the "not supported" message (naming ``rmw``, default: the RMW in use), the first time only.
        """
        try:
            subscription = create(event_callbacks=SubscriptionEventCallbacks(message_lost=self.on_message_lost))
        except UnsupportedEventTypeError:
            subscription = create()
            if self.supported is None:
                report(unsupported_message(rmw or get_rmw_implementation_identifier()))
            self.supported = False
            return subscription
        self.supported = True
        return subscription
