# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Colour/depth pairing by stamp: our matcher, message_filters' where installed, and the hand-on rules (no rclpy)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from sam2_ros.depth.pairing import (
    ColourDepthPairing,
    MessageFiltersMatcher,
    StampMatcher,
    make_matcher,
    stamp_ns,
)

HAVE_MESSAGE_FILTERS = importlib.util.find_spec("message_filters") is not None
MATCHERS = [StampMatcher] + ([MessageFiltersMatcher] if HAVE_MESSAGE_FILTERS else [])


def msg(kind: str, t_ms: int) -> SimpleNamespace:
    """A message look-alike stamped ``t_ms`` milliseconds (ATS reads header.stamp only)."""
    sec, ms = divmod(t_ms, 1000)
    stamp = SimpleNamespace(sec=sec, nanosec=ms * 10**6)
    return SimpleNamespace(kind=kind, t=t_ms, header=SimpleNamespace(stamp=stamp))


def pairs_of(matcher, events: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Feed (stream, t_ms) events; the (colour t, depth t) pairs in the order they complete."""
    out = []
    for index, t in events:
        pair = matcher.add(index, msg("colour" if index == 0 else "depth", t))
        if pair is not None:
            assert (pair[0].kind, pair[1].kind) == ("colour", "depth")
            out.append((pair[0].t, pair[1].t))
    return out


def test_stamps_are_integer_nanoseconds():
    assert stamp_ns(msg("c", 12_345)) == 12_345_000_000


@pytest.mark.parametrize("matcher_type", MATCHERS)
def test_exact_stamps_pair_in_either_arrival_order(matcher_type):
    m = matcher_type(0.0)  # a slop of 0 pairs equal stamps only
    assert pairs_of(m, [(0, 100), (1, 100), (1, 200), (0, 200), (0, 300), (1, 301)]) == [(100, 100), (200, 200)]


@pytest.mark.parametrize("matcher_type", MATCHERS)
def test_within_the_slop_the_nearest_stamp_wins_and_the_slop_is_inclusive(matcher_type):
    m = matcher_type(0.02)
    # depths at 90 and 104 wait; the colour at 100 takes the nearer (104); 90 stays
    assert pairs_of(m, [(1, 90), (1, 104), (0, 100)]) == [(100, 104)]
    assert pairs_of(m, [(0, 110)]) == [(110, 90)]  # exactly 20 ms apart: inside
    assert pairs_of(m, [(0, 500), (1, 521)]) == []  # 21 ms apart: outside


@pytest.mark.parametrize("matcher_type", MATCHERS)
def test_missing_depth_leaves_colour_unpaired_and_later_frames_still_pair(matcher_type):
    m = matcher_type(0.01)
    assert pairs_of(m, [(0, 100), (0, 133), (1, 133), (0, 166), (0, 200), (1, 200)]) == [(133, 133), (200, 200)]


@pytest.mark.parametrize("matcher_type", MATCHERS)
def test_out_of_order_arrivals_pair_by_stamp(matcher_type):
    m = matcher_type(0.005)
    events = [(1, 300), (1, 200), (0, 200), (0, 100), (1, 100), (0, 300)]  # stamps going back and forth
    assert sorted(pairs_of(m, events)) == [(100, 100), (200, 200), (300, 300)]


def test_our_queues_are_bounded_oldest_first():
    m = StampMatcher(0.001, queue_size=3)
    pairs_of(m, [(1, t) for t in (10, 20, 30, 40)])
    assert m.waiting(1) == 3
    assert pairs_of(m, [(0, 10)]) == []  # 10 was dropped
    assert pairs_of(m, [(0, 20)]) == [(20, 20)]


@pytest.mark.skipif(
    not HAVE_MESSAGE_FILTERS, reason="message_filters is not installed (no PyPI wheel; a ROS install has it)"
)
def test_message_filters_and_our_matcher_pair_a_jittery_stream_alike():
    import random

    rng = random.Random(3)
    events = []
    for i in range(200):
        t = 33 * i
        if rng.random() < 0.9:  # some depth images never come
            events.append((1, t + rng.randint(-4, 4)))
        events.append((0, t))
        rng.shuffle(events[-2:])  # either may come first
    assert pairs_of(MessageFiltersMatcher(0.005), events) == pairs_of(StampMatcher(0.005), events)


def test_make_matcher_prefers_message_filters_where_it_is_installed():
    expected = MessageFiltersMatcher if HAVE_MESSAGE_FILTERS else StampMatcher
    assert type(make_matcher(0.02)) is expected
    assert type(make_matcher(0.02, prefer_message_filters=False)) is StampMatcher


# --- handing colour frames on ---------------------------------------------------------------------
class Sink:
    def __init__(self) -> None:
        self.got: list[tuple[int, int | None]] = []

    def __call__(self, frame, depth) -> None:
        self.got.append((frame.t, None if depth is None else depth.t))


@pytest.mark.parametrize("matcher_type", MATCHERS)
def test_each_colour_frame_is_handed_on_once_in_order_with_or_without_depth(matcher_type):
    sink = Sink()
    pairing = ColourDepthPairing(matcher_type(0.005), sink)
    pairing.add_depth(msg("depth", 100))
    pairing.add_colour(msg("colour", 100))  # depth first: at once
    assert sink.got == [(100, 100)] and not pairing.waiting
    pairing.add_colour(msg("colour", 133))  # depth later: waits for it
    assert pairing.waiting and sink.got == [(100, 100)]
    pairing.add_depth(msg("depth", 134))
    assert sink.got[-1] == (133, 134) and not pairing.waiting
    pairing.add_colour(msg("colour", 166))  # its depth never comes: the next colour frame sends it on
    pairing.add_colour(msg("colour", 200))
    assert sink.got[-1] == (166, None) and pairing.waiting
    pairing.expire()  # ... or the node's timer does
    assert sink.got[-1] == (200, None) and not pairing.waiting
    pairing.add_depth(msg("depth", 200))  # too late for a frame already sent on: nothing more
    assert [t for t, _ in sink.got] == [100, 133, 166, 200]
    assert (pairing.paired, pairing.unpaired) == (2, 2)


@pytest.mark.parametrize("matcher_type", MATCHERS)
def test_pairing_starts_again_when_stamps_jump_back(matcher_type):
    """A bag played again or a simulator reset: the queues still hold the stamps of before, full of
    unpaired frames (their depth lost), and would drop every new message as the oldest."""
    sink = Sink()
    pairing = ColourDepthPairing(matcher_type(0.005, queue_size=4), sink)
    for i in range(12):  # depth for every third frame only, arriving after its colour frame
        pairing.add_colour(msg("colour", 100_000 + 33 * i))
        if i % 3 == 0:
            pairing.add_depth(msg("depth", 100_000 + 33 * i))
    pairing.expire()
    assert pairing.paired == 4 and pairing.restarts == 0
    sink.got.clear()
    for i in range(10):  # time starts again at 5 s: every depth image comes
        pairing.add_colour(msg("colour", 5_000 + 33 * i))
        pairing.add_depth(msg("depth", 5_000 + 33 * i))
    assert sink.got == [(5_000 + 33 * i, 5_000 + 33 * i) for i in range(10)]
    assert pairing.restarts == 1 and pairing.paired == 14
    # a depth image late by less than the jump threshold is no restart
    pairing.add_colour(msg("colour", 5_400))
    pairing.add_depth(msg("depth", 4_600))
    assert pairing.restarts == 1 and sink.got[-1] == (5_297, 5_297)
