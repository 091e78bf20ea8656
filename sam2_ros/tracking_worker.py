# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The one thread that touches the tracker: newest frame through a drop-oldest slot, commands in order.

The node's callbacks never run inference. Image callbacks put the newest frame in a slot
of one (a frame still waiting there is replaced and counted as dropped); prompts,
removals and resets are queued as commands and answered through futures. The thread runs
one job at a time, so the tracker is never used concurrently. A command runs after the
frame that was pending when it was submitted, so a prompt applies to the latest image its
sender could have seen. No rclpy here; the node passes plain callables.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerStopped(RuntimeError):
    """The worker is not running (not started yet, or stopped), so it cannot take work."""


class TrackingWorker:
    """A single background thread that processes frames (drop-oldest) and commands (FIFO)."""

    def __init__(
        self,
        process_frame: Callable[[Any], None],
        *,
        on_frame_error: Callable[[BaseException], None] | None = None,
        name: str = "sam2_tracking_worker",
    ) -> None:
        # process_frame: called in the worker thread with each frame taken from the slot.
        # on_frame_error: told about exceptions escaping process_frame (the loop goes on).
        self._process_frame = process_frame
        self._on_frame_error = on_frame_error
        self._name = name
        self._cond = threading.Condition()
        self._pending: tuple[int, Any] | None = None  # (sequence number, frame)
        self._commands: deque[tuple[int, Future, Callable[[], Any]]] = deque()
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._busy = False

    # --- life ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("worker already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Finish the job in progress, fail queued commands with WorkerStopped, end the thread.

        Returns True when the thread has ended within ``timeout``.
        """
        with self._cond:
            self._stopping = True
            self._pending = None
            self._cond.notify_all()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    @property
    def busy(self) -> bool:
        """True while a frame or command is being processed."""
        return self._busy

    # --- work in ------------------------------------------------------------------------
    def submit_frame(self, frame: Any) -> bool:
        """Hand over the newest frame; returns True when it replaced one still waiting (a dropped frame)."""
        with self._cond:
            if self._stopping or self._thread is None:
                raise WorkerStopped("the tracker is not running")
            dropped = self._pending is not None
            self._sequence += 1
            self._pending = (self._sequence, frame)
            self._cond.notify_all()
            return dropped

    def clear_pending(self) -> int:
        """Forget the waiting frame, if any; returns how many were forgotten (0 or 1)."""
        with self._cond:
            forgotten = int(self._pending is not None)
            self._pending = None
            return forgotten

    def submit(self, command: Callable[[], T]) -> Future[T]:
        """Queue ``command`` to run in the worker thread; its result or exception arrives in the future.

        Cancelling the future before the command starts keeps it from running.
        """
        future: Future[T] = Future()
        with self._cond:
            if self._stopping or self._thread is None:
                raise WorkerStopped("the tracker is not running")
            self._sequence += 1
            self._commands.append((self._sequence, future, command))
            self._cond.notify_all()
        return future

    def call(self, command: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``command`` in the worker thread and wait for its result (re-raising its exception).

        On timeout the command is cancelled if it has not started, and TimeoutError is raised.
        """
        if self._thread is threading.current_thread():
            return command()  # already serialised: running it inline avoids waiting on ourselves
        future = self.submit(command)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    # --- the loop -----------------------------------------------------------------------
    def _next_job(self) -> tuple[str, Any] | None:
        with self._cond:
            while not self._stopping and self._pending is None and not self._commands:
                self._cond.wait()
            if self._stopping:
                return None
            if self._commands and (self._pending is None or self._commands[0][0] < self._pending[0]):
                _, future, command = self._commands.popleft()
                job: tuple[str, Any] = ("command", (future, command))
            else:
                assert self._pending is not None
                job = ("frame", self._pending[1])
                self._pending = None
            self._busy = True
            return job

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                break
            kind, payload = job
            try:
                if kind == "frame":
                    try:
                        self._process_frame(payload)
                    except BaseException as error:  # one bad frame must not end the loop
                        if self._on_frame_error is not None:
                            self._on_frame_error(error)
                else:
                    future, command = payload
                    if future.set_running_or_notify_cancel():
                        try:
                            future.set_result(command())
                        except BaseException as error:
                            future.set_exception(error)
            finally:
                self._busy = False
        with self._cond:
            left, self._commands = list(self._commands), deque()
        for _, future, _ in left:
            if future.set_running_or_notify_cancel():
                future.set_exception(WorkerStopped("the tracker was stopped before this command ran"))
