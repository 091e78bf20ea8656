# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The per-frame work of ``Tracker(compile=True)``: image encoder and all-objects step through torch.compile.

Shapes are static. The image encoder always sees ``1 x 3 x S x S``; the step (memory attention,
SAM heads, memory encoder, hole filling) sees the memory bank at full capacity (``MemoryBank`` with
``pad_to_capacity``, every slot present and masked when unused) and the objects padded to a bucket
(1, 2, 4, 8, ..., ``max_objects``), so one graph per bucket is compiled and never again. On CUDA the
graphs are replayed as CUDA graphs (``mode="reduce-overhead"``); their outputs live in the graph's
static buffers and are copied out before anything else runs.

What is not in a graph stays eager and exact: preprocessing (so any frame size works), the memory
bank's bookkeeping and gather, prompts (their number of points varies) and the memory encoding of
prompted frames. A graph that fails to compile (an exception from dynamo or inductor on its first
calls) is reported once with ``warnings.warn`` and that part runs eagerly from then on: never a
wrong result, only a slower one. Past torch's recompile limit (``torch._dynamo.config``, 8 graphs
per function by default) torch itself runs new shapes eagerly.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass, field

import torch

from .memory_bank import MEMORY_DTYPE, MemoryTokens
from .modeling.sam2 import ImageFeatures, SAM2Model
from .postprocess import fill_holes

# A graph's first calls compile it (and, with CUDA graphs, warm up and record it); an exception
# there means this part cannot be compiled here, one later is a real error.
COMPILING_CALLS = 3


def object_buckets(max_objects: int) -> list[int]:
    """Batch sizes the step is compiled for: powers of two below ``max_objects``, then ``max_objects``."""
    buckets, b = [], 1
    while b < max_objects:
        buckets.append(b)
        b *= 2
    return buckets + [max_objects]


@dataclass
class StepOutput:
    """The step's results for the ``n`` real objects (padding rows dropped)."""

    low_res: torch.Tensor  # n x 1 x 4h x 4w float32 logits, holes filled
    scores: torch.Tensor  # n x 1 float32 object-score logits
    obj_ptr: torch.Tensor  # n x C object pointers (model dtype)
    mem: torch.Tensor  # n x mem_dim x h x w memories (bfloat16)
    mem_pos: torch.Tensor  # mem_dim x h x w the memory encoder's spatial encoding


@dataclass
class CompileStats:
    """What this tracker's first calls of each graph cost (compiling it, or finding it compiled)."""

    seconds: float = 0.0  # in those first calls (compile, warm-up, CUDA graph capture)
    graphs: list[str] = field(default_factory=list)  # "encoder", "step x 4", ... in order of first use
    eager: dict[str, str] = field(default_factory=dict)  # graph -> why it runs eagerly


@functools.cache
def _compiled_functions(mode: str) -> tuple[object, object]:
    """The compiled encoder and step for ``mode``, one pair per process: trackers of the same model (a
    node configured again, a benchmark's rows) reuse the graphs instead of compiling them again;
    dynamo guards on the model and the static arguments, so another model gets its own graphs."""
    options = dict(mode=mode, dynamic=False, fullgraph=True)
    return torch.compile(_encode, **options), torch.compile(_step, **options)


class CompiledStep:
    """Compiled encoder and step for one model (``model``'s device and dtype); see the module docstring."""

    def __init__(self, model: SAM2Model, *, max_objects: int, fill_hole_area: int, mode: str | None = None) -> None:
        self.model = model
        self.buckets = object_buckets(max_objects)
        self.fill_hole_area = fill_hole_area
        self.cuda_graphs = model.device.type == "cuda"
        # CUDA: CUDA graphs remove the launch overhead that dominates a frame. CPU: inductor's C++.
        self.mode = mode or ("reduce-overhead" if self.cuda_graphs else "default")
        self.multimask = model.use_multimask(False, 0)
        self.stats = CompileStats()
        self._calls: dict[str, int] = {}
        self._encoder, self._step = _compiled_functions(self.mode)

    def bucket(self, n: int) -> int:
        """The smallest bucket holding ``n`` objects."""
        for b in self.buckets:
            if b >= n:
                return b
        raise ValueError(f"{n} objects exceed the largest bucket ({self.buckets[-1]})")

    # ------------------------------------------------------------------ calls
    def encode(self, image: torch.Tensor) -> ImageFeatures:
        """Normalized ``1 x 3 x S x S`` image -> its features (copies, owned by the caller)."""
        features, pos, *high_res = self._run("encoder", self._encoder, _encode, self.model, image)
        return ImageFeatures(features, pos, list(high_res))

    def step(self, features: ImageFeatures, tokens: MemoryTokens, n: int) -> StepOutput:
        """Track ``n`` objects whose memory ``tokens`` were gathered for ``bucket(n)`` rows."""
        b = tokens.memory.shape[1]
        mask = tokens.padding_mask
        if mask is None:  # every slot full: the same graph, with nothing masked
            mask = torch.zeros(b, tokens.memory.shape[0], dtype=torch.bool, device=tokens.memory.device)
        args = (
            self.model,
            self.multimask,
            self.fill_hole_area,
            tokens.num_ptr_tokens,
            features.features,
            features.pos,
            tokens.memory,
            tokens.pos,
            mask,
            *features.high_res,
        )
        low, scores, ptr, mem, mem_pos = self._run(f"step x {b}", self._step, _step, *args)
        return StepOutput(low[:n], scores[:n], ptr[:n], mem[:n], mem_pos[0])

    def _run(self, key: str, compiled, eager, *args) -> tuple[torch.Tensor, ...]:
        if key in self.stats.eager:
            return eager(*args)
        calls = self._calls.get(key, 0)
        self._calls[key] = calls + 1
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        if calls >= COMPILING_CALLS:
            out = compiled(*args)
        else:
            started = time.perf_counter()
            try:
                out = compiled(*args)
            except torch.OutOfMemoryError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure to compile means: run eagerly
                first_line = (str(error).strip().splitlines() or [""])[0]
                reason = f"{type(error).__name__}: {first_line}"
                self.stats.eager[key] = reason
                warnings.warn(f"sam2_core: cannot compile the {key} graph ({reason}); it runs eagerly", stacklevel=3)
                return eager(*args)
            if self.cuda_graphs:
                torch.cuda.synchronize(self.model.device)  # count the compile, not the queue
            self.stats.seconds += time.perf_counter() - started
            if calls == 0:
                self.stats.graphs.append(key)
        # CUDA graph outputs are overwritten by the next replay: copy them out now
        return tuple(t.clone() for t in out) if self.cuda_graphs else tuple(out)


# ---------------------------------------------------------------------------- the graphs
def _encode(model: SAM2Model, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Image encoder: ``1 x 3 x S x S`` -> features, position encoding, decoder high-res levels."""
    f = model.encode_image(image)
    return (f.features, f.pos, *f.high_res)


def _step(
    model: SAM2Model,
    multimask: bool,
    fill_hole_area: int,
    num_ptr_tokens: int,
    features: torch.Tensor,  # 1 x C x h x w
    pos: torch.Tensor,  # 1 x C x h x w
    memory: torch.Tensor,  # M x B x mem_dim
    memory_pos: torch.Tensor,  # M x B x mem_dim
    mask: torch.Tensor,  # B x M bool, True = padding
    *high_res: torch.Tensor,  # the decoder's high-res levels, 1 x c x H' x W' each
) -> tuple[torch.Tensor, ...]:
    """Memory attention + heads + memory encoder + hole filling for a batch of B objects."""
    b = memory.shape[1]
    feats = features.expand(b, -1, -1, -1)
    conditioned = model.attend_to_memory(feats, pos.expand(b, -1, -1, -1), memory, memory_pos, num_ptr_tokens, mask)
    out = model.sam_heads(conditioned, [x.expand(b, -1, -1, -1) for x in high_res], multimask_output=multimask)
    mem, mem_pos = model.encode_memory(feats, out.high_res_masks, out.object_score_logits, False)
    low = fill_holes(out.low_res_masks.float(), fill_hole_area)
    return low, out.object_score_logits.float(), out.obj_ptr, mem.to(MEMORY_DTYPE), mem_pos[:1]
