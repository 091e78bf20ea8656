# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The state of a labelling run on disk (``DIR/.sam2_label/``), so Ctrl-C leaves a run ``--resume`` continues.

- ``run.json``: the run's settings, its prompts and whether it is complete;
- ``frames.jsonl``: one record per tracked frame (written after the frame's dataset files, so a
  record means its files exist); the datasets' index files are built from these records;
- ``tracker.pkl``: a snapshot of the Tracker after some frame (its memories, not the model) and
  the run's object labels; a resumed run continues from it, dropping records after its frame;
- ``labels/``: 16-bit label images of every tracked frame, for the annotated bag (``--format bag``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

STATE_DIR = ".sam2_label"
STATE_VERSION = 1
_MODEL = "sam2_label:model"  # the snapshot refers to the model, which the resumed run loads itself


class _Pickler(pickle.Pickler):
    def __init__(self, file: Any, model: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.model = model

    def persistent_id(self, obj: Any) -> str | None:
        return _MODEL if obj is self.model else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, model: Any) -> None:
        super().__init__(file)
        self.model = model

    def persistent_load(self, pid: Any) -> Any:
        if pid != _MODEL:
            raise pickle.UnpicklingError(f"unknown reference {pid!r} in the tracker snapshot")
        return self.model


class RunStore:
    """``DIR/.sam2_label/``: run settings, frame records, tracker snapshot and label images."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.dir = self.out / STATE_DIR
        self.run_file = self.dir / "run.json"
        self.frames_file = self.dir / "frames.jsonl"
        self.snapshot_file = self.dir / "tracker.pkl"
        self._append = None

    def exists(self) -> bool:
        return self.run_file.is_file()

    # ------------------------------------------------------------------ run.json
    def read_run(self) -> dict[str, Any]:
        return json.loads(self.run_file.read_text())

    def write_run(self, run: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": STATE_VERSION, **run}, indent=1))
        os.replace(tmp, self.run_file)

    # ------------------------------------------------------------------ frame records
    def records(self) -> list[dict[str, Any]]:
        """The records on disk, in order; a last line cut short (the process was killed) is dropped."""
        if not self.frames_file.is_file():
            return []
        out = []
        for line in self.frames_file.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return out

    def append(self, record: dict[str, Any]) -> None:
        if self._append is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._append = open(self.frames_file, "a")  # noqa: SIM115 - kept open for the run
        self._append.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._append.flush()

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the records (a resumed run drops those after its snapshot)."""
        self.close()
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.frames_file.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
        os.replace(tmp, self.frames_file)

    def close(self) -> None:
        if self._append is not None:
            self._append.close()
            self._append = None

    # ------------------------------------------------------------------ tracker snapshot
    def save_snapshot(self, tracker: Any, state: dict[str, Any]) -> None:
        """Pickle ``tracker`` (without its model) and ``state``, atomically."""
        tmp = self.snapshot_file.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            _Pickler(f, tracker.model).dump({"tracker": tracker, "state": state})
        os.replace(tmp, self.snapshot_file)

    def load_snapshot(self, model: Any) -> tuple[Any, dict[str, Any]] | None:
        """(tracker bound to ``model``, state), or None when the run has no snapshot."""
        if not self.snapshot_file.is_file():
            return None
        with open(self.snapshot_file, "rb") as f:
            data = _Unpickler(f, model).load()
        return data["tracker"], data["state"]

    def drop_working_files(self) -> None:
        """A complete run needs neither its snapshot nor its label images any more."""
        self.snapshot_file.unlink(missing_ok=True)
        shutil.rmtree(self.dir / "labels", ignore_errors=True)
