# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The labelling run: track every frame of a source with sam2_core's Tracker and write the datasets.

Frames before the first prompted frame are skipped (nothing is known about them yet); from it on
every frame of the range is tracked, prompts are applied on their frames as the Tracker applies
them, and every ``--every``-th frame goes into the datasets. The label image and each object's
geometry come from ``sam2_ros.outputs`` (ownership decided once, as the live node does). Each
frame's record is appended to the run's state after its files are written; index files
(``annotations.json``, ``data.yaml``, the annotated bag) are written from the records when the
run ends, also when it is stopped (Ctrl-C, SIGTERM, ``--max-frames``), so what is on disk is
always a valid dataset of the frames done, and ``--resume`` continues from the last snapshot.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from sam2_ros.labelling import auto_prompts, prompt_file
from sam2_ros.labelling.bag_output import BagWriter
from sam2_ros.labelling.coco import CocoWriter
from sam2_ros.labelling.config import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    FORMATS,
    LabelConfig,
    LabelInputError,
)
from sam2_ros.labelling.davis import MAX_DAVIS_ID, DavisWriter
from sam2_ros.labelling.progress import Progress
from sam2_ros.labelling.review_video import ReviewVideo, resumed_path
from sam2_ros.labelling.run_store import RunStore
from sam2_ros.labelling.sources import LabelSource, open_source, sequence_name
from sam2_ros.labelling.yolo import YoloWriter
from sam2_ros.outputs import frame_labels, object_geometries
from sam2_ros.prompts import stamp_to_ns

SNAPSHOT_PERIOD_S = 60.0  # wall time between tracker snapshots (a killed run loses at most this much)


class Categories:
    """Object labels -> category index, in order of first appearance (COCO ids are index + 1)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, name: str) -> int:
        if name not in self._index:
            self._index[name] = len(self.names)
            self.names.append(name)
        return self._index[name]


def frame_range(source: LabelSource, start: float | None, end: float | None) -> tuple[int, int | None]:
    """Indices (first, last) of the frames within [start, end] seconds from the first frame (last None: to the end)."""
    last_of_source = source.length - 1 if source.length else None
    if start is None and end is None:
        return 0, last_of_source
    start = start or 0.0
    if source.kind == "bag":
        stamps = source.stamps_ns()
        offsets = [(s - stamps[0]) / 1e9 for s in stamps]
        inside = [i for i, t in enumerate(offsets) if t >= start - 1e-6 and (end is None or t <= end + 1e-6)]
        if not inside:
            raise LabelInputError(
                f"--start/--end select no image: the bag's images span 0 .. {offsets[-1]:.3f} s from the first"
            )
        return inside[0], inside[-1]
    first = math.ceil(start * source.fps - 1e-6)
    last = last_of_source if end is None else math.floor(end * source.fps + 1e-6)
    if last_of_source is not None:
        last = min(last, last_of_source) if last is not None else last_of_source
    if (last is not None and first > last) or (source.length is not None and first >= source.length):
        span = f"0 .. {(source.length - 1) / source.fps:.3f} s" if source.length else "an unknown length"
        raise LabelInputError(f"--start/--end select no frame: the source spans {span} ({source.fps:g} fps)")
    return first, last


class LabelRun:
    """One run of ``python -m sam2_ros.label`` (``execute()`` returns the exit status)."""

    def __init__(self, cfg: LabelConfig, *, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self.cfg = cfg
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stop_requested = ""
        self.object_labels: dict[int, str] = {}

    # ------------------------------------------------------------------ set-up
    def _formats(self, source: LabelSource) -> tuple[str, ...]:
        formats = self.cfg.formats or tuple(f for f in FORMATS if f != "bag" or source.kind == "bag")
        if "bag" in formats and source.kind != "bag":
            raise LabelInputError(
                f"--format bag needs a bag source (an annotated copy of it); {source.kind}s have none"
            )
        return formats

    def _prompts(self, source: LabelSource, first: int, last: int | None) -> dict[int, list]:
        cfg = self.cfg
        if not cfg.prompts:
            return {}
        entries = prompt_file.load_prompts(cfg.prompts)
        max_id = MAX_DAVIS_ID if "davis" in self.formats else prompt_file.MAX_OBJECT_ID
        by_frame = prompt_file.resolve_frames(
            entries, length=source.length, stamps_ns=source.stamps_ns, first=first, last=last, max_id=max_id
        )
        objects = {e.object_id for e in entries}
        if len(objects) > cfg.max_objects:
            raise LabelInputError(f"the prompts introduce {len(objects)} objects; --max-objects is {cfg.max_objects}")
        self.entries = entries
        return by_frame

    def _check_first_frame(self, source: LabelSource, index: int, by_frame: dict[int, list]) -> tuple[int, int]:
        """Decode the first frame to track (its encoding is the topic's); check mask prompts' sizes. (H, W)."""
        frames = source.frames(index)
        frame = next(frames, None)
        frames.close()
        if frame is None:
            raise LabelInputError(f"the source has no frame {index} (it ended before)")
        if frame.rgb is None:
            raise LabelInputError(f"frame {index}, the first to label, cannot be decoded: {frame.error}")
        hw = frame.rgb.shape[:2]
        for entries in by_frame.values():
            for e in entries:
                if e.mask is not None and e.mask.shape != hw:
                    raise LabelInputError(
                        f"{e.where()}: mask {e.mask_path} is {e.mask.shape[1]} x {e.mask.shape[0]} but the images are "
                        f"{hw[1]} x {hw[0]}"
                    )
        return hw

    def _check_output(self, store: RunStore, source: LabelSource) -> dict[str, Any] | None:
        """The run to resume (its run.json), or None for a new run; LabelInputError when the folder is taken."""
        cfg, out = self.cfg, store.out
        if out.exists() and not out.is_dir():
            raise LabelInputError(f"--out '{out}' is a file, not a folder")
        if store.exists():
            try:
                run = store.read_run()
            except (OSError, ValueError) as error:
                raise LabelInputError(
                    f"--out '{out}' holds a labelling run whose state cannot be read: {error}"
                ) from None
            if not cfg.resume:
                raise LabelInputError(
                    f"--out '{out}' holds another labelling run (of {run.get('settings', {}).get('source')}); "
                    "continue it with --resume or choose another folder"
                )
            theirs, ours = run.get("settings", {}), cfg.fingerprint()
            changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            if changed:
                detail = ", ".join(f"{k}: {theirs.get(k)!r} -> {ours.get(k)!r}" for k in changed[:4])
                raise LabelInputError(f"--resume: the run in '{out}' was made with other settings ({detail})")
            return run
        taken = [f"{f}/" for f in FORMATS if (out / f).exists()]
        if taken:
            raise LabelInputError(
                f"--out '{out}' already holds {', '.join(taken)} from something other than a run --resume can "
                "continue; choose another folder"
            )
        return None

    def _load_model(self) -> Any:
        import sam2_core
        from sam2_ros.tracker_factory import load_model

        cfg = self.cfg
        try:
            loaded = load_model(cfg.model, cfg.checkpoint, cfg.device, cfg.dtype, cfg.image_size)
        except (OSError, ValueError, sam2_core.CheckpointError) as error:
            raise LabelInputError(str(error).splitlines()[0]) from None
        if loaded.name != cfg.model:
            self.err.write(
                f"label: no --checkpoint for {cfg.model}: using the bundled {loaded.name} (trained on synthetic "
                "scenes only; give --checkpoint for real recordings)\n"
            )
        self.model_name, self.checkpoint, self.device = loaded.name, loaded.checkpoint, loaded.device
        return loaded.model

    # ------------------------------------------------------------------ run
    def execute(self) -> int:
        cfg = self.cfg
        source = open_source(cfg.source, cfg.topic, cfg.fps)
        try:
            return self._execute(source)
        finally:
            source.close()

    def _execute(self, source: LabelSource) -> int:
        import sam2_core

        cfg = self.cfg
        started = time.monotonic()
        self.formats = self._formats(source)
        if "davis" in self.formats and cfg.max_objects > MAX_DAVIS_ID:
            raise LabelInputError(f"--max-objects {cfg.max_objects}: DAVIS annotations hold at most {MAX_DAVIS_ID}")
        auto_prompts.check_available(cfg.auto, bool(cfg.text), cfg.detector)
        name = cfg.name or sequence_name(cfg.source)
        first, last = frame_range(source, cfg.start, cfg.end)
        by_frame = self._prompts(source, first, last)
        first_tracked = min(by_frame) if by_frame else first
        self._check_first_frame(source, first_tracked, by_frame)
        out = Path(cfg.out).expanduser()
        store = RunStore(out)
        previous = self._check_output(store, source)
        if previous is not None and previous.get("complete"):
            self.out.write(f"label: the run in '{out}' is complete already; nothing to do\n")
            return EXIT_OK
        digits = max(5, len(str(source.length - 1))) if source.length else 5

        writers: dict[str, Any] = {}
        if "coco" in self.formats:
            writers["coco"] = CocoWriter(out, name, digits)
        if "davis" in self.formats:
            writers["davis"] = DavisWriter(out, name, digits)
        if "yolo" in self.formats:
            writers["yolo"] = YoloWriter(out, name, digits)
        if "bag" in self.formats:
            try:
                writers["bag"] = BagWriter(out, store.dir, source, cfg.node_name, cfg.contour_epsilon)
            except ValueError as error:
                raise LabelInputError(str(error)) from None
            clash = set(writers["bag"].topics()) & {c.topic for c in source.reader.connections}
            if clash:
                raise LabelInputError(f"the bag already has {', '.join(sorted(clash))}; choose another --node-name")

        model = self._load_model()
        prompts_summary = [e.summary() for e in getattr(self, "entries", [])]
        tracker, done = sam2_core.Tracker(model, max_objects=cfg.max_objects), -1
        records: list[dict] = []
        if previous is not None:
            snapshot = store.load_snapshot(model)
            if snapshot is not None:
                tracker, state = snapshot
                done = int(state["frame"])
                self.object_labels = {int(k): v for k, v in state["labels"].items()}
            before = [p for p in previous.get("prompts", []) if p["frame"] <= done]
            if before != [p for p in prompts_summary if p["frame"] <= done]:
                raise LabelInputError(
                    f"--resume: prompts for frames up to {done} (done already) changed; label into a new folder instead"
                )
            old = store.records()
            records = [r for r in old if r["index"] <= done]
            for r in old[len(records) :]:
                for w in writers.values():
                    w.forget(r["index"])
            store.rewrite(records)
        run_info = {"settings": cfg.fingerprint(), "prompts": prompts_summary, "complete": False}
        store.write_run(run_info)
        for w in writers.values():
            w.open()

        self.categories = Categories()
        for r in records:
            for o in r["objects"]:
                self.categories.add(o["label"])
        start = done + 1 if done >= 0 else first_tracked
        video = None
        if cfg.video:
            path = Path(cfg.video).expanduser()
            video = ReviewVideo(path if start == first_tracked else resumed_path(path, start), source.fps)
        total = (last - first_tracked + 1) if last is not None else None
        self.err.write(f"label: {source.description}; frames {first_tracked}..{'end' if last is None else last}\n")
        progress = Progress(self.err, total, initial=start - first_tracked)

        state = {"tracked": 0, "skipped": 0, "done": done}
        complete, interrupted, failure = False, False, None
        self._writing: int | None = None  # the frame whose files are being written (no record yet)
        self._install_signals()
        try:
            complete = self._loop(
                source, tracker, by_frame, writers, video, store, progress, state, first_tracked, start, last
            )
        except KeyboardInterrupt:
            interrupted = True  # a second Ctrl-C: no snapshot of a frame that may be half done
            self._forget_unfinished(writers)
        except BaseException as error:  # bad prompt, a failing step, ...: the frames done stay a valid dataset
            failure = error
            self._forget_unfinished(writers)
        finally:
            self._restore_signals()
            progress.close()
            if video is not None:
                video.close()
            store.close()
        unreached = sorted(f for f in by_frame if f > state["done"]) if complete else []
        if unreached and failure is None:  # a video whose container promised more frames than it has
            failure = LabelInputError(
                f"prompts for frame(s) {unreached[:5]} were never reached: the source ended after frame {state['done']}"
            )
        stopped = not complete and failure is None and not interrupted
        if stopped:  # Ctrl-C / SIGTERM / --max-frames after a whole frame: resumable from here
            store.save_snapshot(tracker, {"frame": state["done"], "labels": self.object_labels})
        records, lines = self._finish(store, writers, run_info, complete, source)
        self._summary(records, state, started, lines, video)
        if failure is not None:
            raise failure
        if complete:
            return EXIT_OK
        reason = self.stop_requested or ("Ctrl-C" if interrupted else f"--max-frames {cfg.max_frames}")
        self.out.write(
            f"label: stopped ({reason}) after frame {state['done']}; the datasets hold the frames done, "
            "--resume continues\n"
        )
        return EXIT_OK if reason.startswith("--max-frames") else EXIT_INTERRUPTED

    def _loop(
        self,
        source: LabelSource,
        tracker: Any,
        by_frame: dict[int, list],
        writers: dict[str, Any],
        video: ReviewVideo | None,
        store: RunStore,
        progress: Progress,
        state: dict[str, int],
        first_tracked: int,
        start: int,
        last: int | None,
    ) -> bool:
        """Track frames from ``start``; True when the range is done, False when asked to stop."""
        frames = source.frames(start)
        try:
            return self._track_frames(
                frames, tracker, by_frame, writers, video, store, progress, state, first_tracked, last
            )
        finally:
            frames.close()

    def _track_frames(
        self,
        frames: Any,
        tracker: Any,
        by_frame: dict[int, list],
        writers: dict[str, Any],
        video: ReviewVideo | None,
        store: RunStore,
        progress: Progress,
        state: dict[str, int],
        first_tracked: int,
        last: int | None,
    ) -> bool:
        cfg = self.cfg
        last_snapshot = time.monotonic()
        for frame in frames:
            if last is not None and frame.index > last:
                return True
            if frame.rgb is None:
                if frame.index in by_frame or frame.index == first_tracked:
                    raise LabelInputError(f"frame {frame.index} has prompts but cannot be decoded: {frame.error}")
                state["skipped"] += 1
                progress.note(f"label: skipping frame {frame.index}: {frame.error}")
                continue
            self._frame(frame, tracker, by_frame.get(frame.index, []), writers, video, store, first_tracked)
            state["tracked"] += 1
            state["done"] = frame.index
            progress.update()
            at_end = last is not None and frame.index >= last
            if at_end:
                return True
            if self.stop_requested or (cfg.max_frames and state["tracked"] >= cfg.max_frames):
                if last is None and next(frames, None) is None:
                    return True
                self.stop_requested = self.stop_requested or f"--max-frames {cfg.max_frames}"
                return False
            if time.monotonic() - last_snapshot > SNAPSHOT_PERIOD_S:
                store.save_snapshot(tracker, {"frame": frame.index, "labels": self.object_labels})
                last_snapshot = time.monotonic()
        return True

    def _frame(
        self,
        frame: Any,
        tracker: Any,
        entries: list,
        writers: dict[str, Any],
        video: ReviewVideo | None,
        store: RunStore,
        first_tracked: int,
    ) -> None:
        """Track one frame, apply its prompts, write its dataset files and its record."""
        cfg = self.cfg
        result = tracker.track(frame.rgb)
        if frame.index == first_tracked and (cfg.auto or cfg.text):
            result = self._first_frame_prompts(tracker, frame.rgb) or result
        for e in entries:
            try:
                result = tracker.add_prompt(e.object_id, points=e.points, labels=e.point_labels, box=e.box, mask=e.mask)
            except ValueError as error:
                raise LabelInputError(f"{e.where()}: {error}") from None
            self.object_labels[e.object_id] = e.label
        self._writing = frame.index
        ids = list(result.obj_ids)
        labels, regions = frame_labels(result)
        geometries = object_geometries(labels, ids, cfg.contour_epsilon, regions)
        scores = result.object_scores.float().cpu().tolist()
        height, width = labels.shape
        names = {i: self.object_labels[i] for i in ids}
        for i in ids:
            self.categories.add(names[i])
        record: dict[str, Any] = {
            "index": frame.index,
            "stamp_ns": int(frame.stamp_ns),
            "log_time_ns": int(frame.log_time_ns),
            # the image's own header stamp (0 where the camera left it unset); no header: the frame's
            "header_stamp_ns": stamp_to_ns(frame.header.stamp) if frame.header is not None else int(frame.stamp_ns),
            "frame_id": str(frame.header.frame_id) if frame.header is not None else "",
            "width": width,
            "height": height,
            "kept": (frame.index - first_tracked) % cfg.every == 0,
            "objects": [
                {"id": i, "label": names[i], "score": s, "area": g.area, "bbox": list(g.bbox)}
                for i, s, g in zip(ids, scores, geometries)
            ],
        }
        if record["kept"] and any(k in writers for k in ("coco", "davis", "yolo")):
            ok, encoded = cv2.imencode(".jpg", frame.rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
            if not ok:
                raise OSError(f"cannot encode frame {frame.index} as JPEG")
            jpeg = encoded.tobytes()
            if "coco" in writers:
                record["coco"] = writers["coco"].add_frame(frame.index, jpeg, labels, [(i, names[i]) for i in ids])
            if "davis" in writers:
                writers["davis"].add_frame(frame.index, jpeg, labels)
            if "yolo" in writers:
                classes = {i: self.categories.add(names[i]) for i in ids}
                writers["yolo"].add_frame(frame.index, jpeg, geometries, classes, width, height)
        if "bag" in writers:
            writers["bag"].add_frame(frame.index, labels)
        if video is not None:
            video.write(frame.rgb, labels, geometries, names)
        store.append(record)
        self._writing = None

    def _forget_unfinished(self, writers: dict[str, Any]) -> None:
        """Remove the files of a frame stopped while they were written: it has no record, so no index
        lists it, but DAVIS and YOLO folders are their files (a YOLO image without its labels reads as
        a frame with no objects)."""
        if self._writing is not None:
            for w in writers.values():
                w.forget(self._writing)
            self._writing = None

    def _first_frame_prompts(self, tracker: Any, rgb: np.ndarray) -> Any:
        """``--auto`` / ``--text``: find the objects on the first frame and prompt the tracker with them."""
        cfg = self.cfg
        if cfg.auto:
            found = auto_prompts.automatic_prompts(tracker.model, rgb, cfg.max_objects)
        else:
            found = auto_prompts.text_prompts(
                cfg.detector,
                rgb,
                cfg.text,
                device=self.device,
                box_threshold=cfg.box_threshold,
                text_threshold=cfg.text_threshold,
                max_objects=cfg.max_objects,
            )
        result = None
        for p in found:
            try:
                result = tracker.add_prompt(p.object_id, box=p.box, mask=p.mask)
            except ValueError as error:
                raise LabelInputError(f"{'--auto' if cfg.auto else '--text'} object {p.object_id}: {error}") from None
            self.object_labels[p.object_id] = p.label
        return result

    # ------------------------------------------------------------------ end
    def _finish(
        self, store: RunStore, writers: dict[str, Any], run_info: dict, complete: bool, source: LabelSource
    ) -> tuple[list[dict], list[str]]:
        """Write the index files from the records on disk; returns (records, one line per output)."""
        records = store.records()
        categories = Categories()
        for r in records:
            for o in r["objects"]:
                categories.add(o["label"])
        info = {
            "description": "labelled with python -m sam2_ros.label (SAM 2 tracking)",
            "source": str(Path(self.cfg.source).expanduser().resolve()),
            "topic": getattr(source, "topic", None),
            "model": self.model_name,
            "checkpoint": str(self.checkpoint),
        }
        lines = [w.finish(records, categories.names, info) for w in writers.values()]
        run_info["complete"] = complete
        store.write_run(run_info)
        if complete:
            store.drop_working_files()
        return records, lines

    def _summary(self, records: list[dict], state: dict, started: float, lines: list[str], video: Any) -> None:
        elapsed = time.monotonic() - started
        kept = [r for r in records if r["kept"]]
        objects: dict[int, tuple[str, int]] = {}
        for r in records:
            for o in r["objects"]:
                label, masks = objects.get(o["id"], (o["label"], 0))
                objects[o["id"]] = (label, masks + int(r["kept"] and o["area"] > 0))
        rate = state["tracked"] / elapsed if elapsed > 0 else 0.0
        write = self.out.write
        write(
            f"label: {len(records)} frames tracked ({state['tracked']} in this run, {rate:.2f} frames/s, "
            f"{elapsed:.1f} s), {len(kept)} in the datasets (every {self.cfg.every}), {state['skipped']} skipped; "
            f"{len(objects)} objects\n"
        )
        for object_id, (label, masks) in sorted(objects.items()):
            write(f"label:   object {object_id} '{label}': {masks} masks in {len(kept)} frames\n")
        for line in lines:
            write(f"label: wrote {line}\n")
        if video is not None and video.frames:
            write(f"label: wrote {video.path} (review overlay, {video.frames} frames)\n")

    # ------------------------------------------------------------------ signals
    def _install_signals(self) -> None:
        self._previous_handlers = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signals(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers = {}

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.err.write(f"\nlabel: {self.stop_requested}: stopping after this frame (again to stop at once)\n")
        self.err.flush()


def run(cfg: LabelConfig, *, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``cfg``; the exit status (LabelInputError propagates: the caller prints it and exits 2)."""
    return LabelRun(cfg, out=out, err=err).execute()
