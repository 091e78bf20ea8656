# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Colour frames paired with the depth image of the same stamp, or the nearest within a slop. No rclpy.

Two matchers with one behaviour: message_filters' ApproximateTimeSynchronizer where it is
installed (a ROS install) and StampMatcher, our own, where it is not. Both pair greedily as
messages arrive: a new message takes the nearest-stamped waiting message of the other kind
within the slop (inclusive; on a tie the one that arrived first), and both leave the queues;
unpaired messages wait, the oldest stamp dropped past ``queue_size``. ColourDepthPairing adds
what a tracker needs on top: a colour frame waits for its depth at most until the next colour
frame or ``expire()`` and then goes on without it, so a missing depth stream delays nothing
by more than that; and when stamps jump back in time (a bag played again, a simulator reset)
it empties the matcher, whose queues would otherwise keep the newer stamps of before the jump
and drop every new message as the oldest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT_QUEUE_SIZE = 8
JUMP_BACK_NS = 1_000_000_000  # a message stamped this much before the newest one seen: time started again


def stamp_ns(msg: Any) -> int:
    """A message's (or Frame's) header stamp in integer nanoseconds."""
    stamp = msg.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class StampMatcher:
    """Greedy approximate-time pairing of two streams (0: colour, 1: depth), as message_filters' ATS does."""

    backend = "sam2_ros StampMatcher"

    def __init__(self, slop_s: float, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.slop_ns = int(round(slop_s * 1e9))
        self.queue_size = max(int(queue_size), 1)
        self._queues: tuple[dict[int, Any], dict[int, Any]] = ({}, {})

    def add(self, index: int, msg: Any) -> tuple[Any, Any] | None:
        """Add ``msg`` to stream ``index``; returns (colour, depth) when it completes a pair, else None."""
        stamp = stamp_ns(msg)
        other = self._queues[1 - index]
        # the nearest stamp; on a tie the one that came first (dicts keep arrival order), as ATS does
        best = min((s for s in other if abs(s - stamp) <= self.slop_ns), key=lambda s: abs(s - stamp), default=None)
        if best is None:
            queue = self._queues[index]
            queue[stamp] = msg
            while len(queue) > self.queue_size:
                del queue[min(queue)]
            return None
        match = other.pop(best)
        return (msg, match) if index == 0 else (match, msg)

    def waiting(self, index: int) -> int:
        return len(self._queues[index])

    def clear(self) -> None:
        """Forget every waiting message."""
        for queue in self._queues:
            queue.clear()


class MessageFiltersMatcher:
    """The same interface over message_filters.ApproximateTimeSynchronizer (fed through SimpleFilters).

    Raises ImportError when message_filters is not installed.
    """

    backend = "message_filters ApproximateTimeSynchronizer"

    def __init__(self, slop_s: float, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        import message_filters  # noqa: F401 - ImportError here when it is not installed

        # ATS pairs when the stamps differ by strictly less than its slop: one nanosecond more makes
        # the slop inclusive, as StampMatcher's (and a slop of 0 pairs equal stamps)
        self._slop = (int(round(slop_s * 1e9)) + 1) / 1e9
        self._queue_size = max(int(queue_size), 1)
        self._pair: tuple[Any, Any] | None = None
        self.clear()

    def clear(self) -> None:
        """Forget every waiting message (a new synchronizer: ATS has no call for it)."""
        from message_filters import ApproximateTimeSynchronizer, SimpleFilter

        self._inputs = (SimpleFilter(), SimpleFilter())
        self._sync = ApproximateTimeSynchronizer(list(self._inputs), self._queue_size, self._slop)
        self._sync.registerCallback(self._on_pair)

    def _on_pair(self, colour: Any, depth: Any) -> None:
        self._pair = (colour, depth)

    def add(self, index: int, msg: Any) -> tuple[Any, Any] | None:
        self._pair = None
        self._inputs[index].signalMessage(msg)  # ATS signals synchronously, from inside this call
        pair, self._pair = self._pair, None
        return pair


def make_matcher(slop_s: float, queue_size: int = DEFAULT_QUEUE_SIZE, *, prefer_message_filters: bool = True) -> Any:
    """message_filters' matcher where it is installed (and preferred), else StampMatcher."""
    if prefer_message_filters:
        try:
            return MessageFiltersMatcher(slop_s, queue_size)
        except ImportError:
            pass
    return StampMatcher(slop_s, queue_size)


class ColourDepthPairing:
    """Hands each colour frame on with its depth image (or None) as soon as that is known.

    ``deliver(frame, depth)`` is called for every colour frame exactly once, in arrival order:
    at once when its depth is already there, when the depth arrives, or without depth when the
    next colour frame arrives or ``expire()`` is called (the node calls it from a timer) first.
    Frames need a ``header`` with a stamp. Not thread-safe: call it from one thread at a time
    (the node's mutually exclusive input callback group).
    """

    def __init__(self, matcher: Any, deliver: Callable[[Any, Any], None]) -> None:
        self.matcher = matcher
        self._deliver = deliver
        self._waiting: Any = None  # the colour frame waiting for its depth
        self._newest_ns: int | None = None  # the newest stamp seen on either stream
        self.paired = 0
        self.unpaired = 0
        self.restarts = 0  # times stamps jumped back and the matcher was emptied

    @property
    def waiting(self) -> bool:
        return self._waiting is not None

    def _check_clock(self, msg: Any) -> None:
        """Empty the matcher when ``msg`` is stamped over JUMP_BACK_NS before the newest stamp seen."""
        stamp = stamp_ns(msg)
        if self._newest_ns is not None and stamp < self._newest_ns - JUMP_BACK_NS:
            self.expire()
            self.matcher.clear()
            self.restarts += 1
            self._newest_ns = stamp
        elif self._newest_ns is None or stamp > self._newest_ns:
            self._newest_ns = stamp

    def add_colour(self, frame: Any) -> None:
        self.expire()
        self._check_clock(frame)
        pair = self.matcher.add(0, frame)
        if pair is None:
            self._waiting = frame
        else:
            self.paired += 1
            self._deliver(frame, pair[1])

    def add_depth(self, depth: Any) -> None:
        self._check_clock(depth)
        pair = self.matcher.add(1, depth)
        if pair is not None and pair[0] is self._waiting:
            self._waiting = None
            self.paired += 1
            self._deliver(pair[0], depth)
        # a pair with a colour frame already delivered without depth is too late: dropped

    def expire(self) -> None:
        """Deliver the waiting colour frame, if any, without depth."""
        frame, self._waiting = self._waiting, None
        if frame is not None:
            self.unpaired += 1
            self._deliver(frame, None)
