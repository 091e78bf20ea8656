# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Text prompts without ROS: phrases from a request's text, and the phrases that stay active (continuous).

Pure (no rclpy, no torch): the node's text-prompt server (``text_server``) parses requests
here and asks ``ActivePhrases`` after every tracked frame whether a re-detection is due.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_SEPARATORS = re.compile(r"[.,]")
_SPACES = re.compile(r"\s+")


class TextPromptError(ValueError):
    """A text request that cannot be run; the message says why."""


def parse_phrases(text: str) -> list[str]:
    """Phrases of a text prompt: split at "." and ",", whitespace collapsed, empties and repeats dropped.

    "red mug. bottle, red  mug" -> ["red mug", "bottle"]. Case is kept (labels are the phrases as
    written); repeats are detected case-insensitively. TextPromptError when no phrase is left.
    """
    phrases: list[str] = []
    seen: set[str] = set()
    for part in _SEPARATORS.split(str(text)):
        phrase = _SPACES.sub(" ", part).strip()
        if phrase and phrase.lower() not in seen:
            seen.add(phrase.lower())
            phrases.append(phrase)
    if not phrases:
        raise TextPromptError(
            f"text {str(text)!r} holds no phrase; give one or more phrases separated by '.' or ','"
            " (e.g. 'red mug. bottle')"
        )
    return phrases


def check_threshold(value: float, name: str) -> float:
    """``value`` as a float in 0..1; TextPromptError naming ``name`` otherwise."""
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise TextPromptError(f"{name} must be between 0 and 1, got {value:g}")
    return value


@dataclass
class ActivePhrases:
    """The continuous phrases and when they were last detected.

    Each phrase keeps the box threshold it was requested with (None = the parameter's, read at
    each detection). Times are nanoseconds of image time (header stamps), or the receipt clock
    for unstamped images, so bags and simulation re-detect at their own pace.
    """

    thresholds: dict[str, float | None] = field(default_factory=dict)
    last_detection_ns: int | None = None

    def __bool__(self) -> bool:
        return bool(self.thresholds)

    @property
    def phrases(self) -> list[str]:
        return list(self.thresholds)

    def add(self, phrases: Iterable[str], box_threshold: float | None, detected_at_ns: int | None) -> None:
        """Keep ``phrases`` active (a phrase already active takes the new threshold)."""
        known = {p.lower(): p for p in self.thresholds}
        for phrase in phrases:
            self.thresholds[known.get(phrase.lower(), phrase)] = box_threshold
        if detected_at_ns is not None:
            self.last_detection_ns = detected_at_ns

    def clear(self) -> list[str]:
        """Stop every phrase; returns the ones that were active."""
        stopped = self.phrases
        self.thresholds.clear()
        self.last_detection_ns = None
        return stopped

    def due(self, now_ns: int, period_s: float) -> bool:
        """Whether a re-detection is due on an image at ``now_ns`` (period 0 = every frame).

        Time running backwards (a bag restarted) makes it due at once.
        """
        if not self.thresholds:
            return False
        last = self.last_detection_ns
        if last is None or now_ns < last:
            return True
        return (now_ns - last) >= period_s * 1e9

    def threshold_of(self, phrase: str, default: float) -> float:
        value = self.thresholds.get(phrase)
        return default if value is None else value
