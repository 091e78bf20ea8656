# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the benchmark measures besides masks: step time, memory per runner, process peak memory, IoU."""

from __future__ import annotations

import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn


class StepMeter:
    """Times one runner's steps and, on CUDA, attributes device memory to it.

    The two runners step alternately in one process, so process-wide numbers mix them. On CUDA each
    step's allocations are the stepping runner's own: its resident memory is the running sum of
    ``memory_allocated`` changes across its steps, and its peak is the largest ``resident before the
    step + max_memory_allocated during the step - allocated before it``, plus its weights. CUDA is
    synchronized before each clock reading, so a step's time includes its kernels.
    """

    def __init__(self, device: torch.device, weights_bytes: int = 0) -> None:
        self.cuda = device.type == "cuda"
        self.weights_bytes = weights_bytes
        self.resident = 0  # bytes (CUDA only)
        self.peak = 0  # bytes above the weights (CUDA only)

    def run(self, fn: Callable[[], Any]) -> tuple[Any, float, float]:
        """Call ``fn`` and account its memory; returns its result, its wall-clock duration and the
        process CPU time it used, in seconds.

        CPU time hardly changes when other programs share the machine (time spent descheduled does
        not count), so it tells a real difference from load noise; FPS is wall-clock.
        """
        if self.cuda:
            torch.cuda.synchronize()
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        start, cpu_start = time.perf_counter(), time.process_time()
        out = fn()
        if self.cuda:
            torch.cuda.synchronize()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if self.cuda:
            self.peak = max(self.peak, self.resident + torch.cuda.max_memory_allocated() - before)
            self.resident += torch.cuda.memory_allocated() - before
        return out, elapsed, cpu

    @property
    def peak_bytes(self) -> int | None:
        """Attributed CUDA peak including the weights; None on other devices (not measured per runner)."""
        return self.weights_bytes + self.peak if self.cuda else None


def device_name(device: torch.device | str) -> str:
    """The GPU's name for a CUDA device, else the CPU's model name (what benchmark tables are quoted with)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def module_bytes(module: nn.Module) -> int:
    """Bytes of a module's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def tensor_bytes(root: object, skip_types: tuple[type, ...] = (nn.Module,)) -> int:
    """Bytes of the distinct tensor storages reachable from ``root`` through dicts, sequences, dataclasses
    and ``sam2_core`` objects (modules are skipped: weights are not state). Views share one storage."""
    seen_storages: set[tuple[str, int]] = set()
    seen_objects: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            key = (str(obj.device), storage.data_ptr())
            if key not in seen_storages:
                seen_storages.add(key)
                total += storage.nbytes()
            continue
        if isinstance(obj, skip_types) or id(obj) in seen_objects:
            continue
        seen_objects.add(id(obj))
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("sam2_core"):
            stack.extend(vars(obj).values())
    return total


class ProcessPeakMemory:
    """Peak resident set size of this process (Linux ``VmHWM``), reset by ``start`` where allowed."""

    def start(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            self.since = "since the start of this row"
        except OSError:
            self.since = "over the whole process"

    def peak_bytes(self) -> int:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-object IoU of two ``N x H x W`` bool mask stacks (N floats); two empty masks count as 1.0."""
    if a.shape != b.shape:
        raise ValueError(f"mask stacks differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    inter = (a & b).flatten(1).sum(1).double()
    union = (a | b).flatten(1).sum(1).double()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return iou.cpu().numpy()


def percentile_ms(seconds: list[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(seconds) * 1e3, q)) if seconds else None


def fps(seconds: list[float]) -> float | None:
    """Frames per second over the timed steps: their count over their total time."""
    return len(seconds) / sum(seconds) if seconds and sum(seconds) > 0 else None
