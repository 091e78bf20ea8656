# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Progress of a labelling run: a tqdm bar on a terminal (frames, frames/s, time left), else a line per 100 frames."""

from __future__ import annotations

import time
from typing import IO

LINE_EVERY = 100  # frames between plain progress lines


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """``update()`` once per tracked frame; ``note()`` prints a line without breaking the bar."""

    def __init__(self, stream: IO[str], total: int | None, initial: int = 0) -> None:
        self.stream, self.total, self.done = stream, total, initial
        self.started, self._first = time.monotonic(), initial
        self._bar = None
        if getattr(stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="frame", file=stream, dynamic_ncols=True)

    def update(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif (self.done - self._first) % LINE_EVERY == 0:
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.done - self._first) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        total = f"/{self.total}" if self.total else ""
        left = ""
        if self.total and rate > 0:
            left = f", {_clock((self.total - self.done) / rate)} left"
        return f"label: {self.done}{total} frames, {rate:.2f} frames/s{left}"

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
