# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""MemoryBank: the committed memories and object pointers of all tracked objects, in fixed-capacity slots."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .modeling.sam2 import SAM2Model

# The reference stores memory features in bfloat16 (and upcasts them when it concatenates them
# with the float32 object pointers); storing them the same way reproduces its rounding and halves
# the bank's size.
MEMORY_DTYPE = torch.bfloat16
EMPTY = -1  # frame index of an unused slot


@dataclass
class MemoryTokens:
    """What one step of memory attention reads for B objects (M = frames * h * w + pointer tokens)."""

    memory: torch.Tensor  # M x B x mem_dim
    pos: torch.Tensor  # M x B x mem_dim, spatial + temporal encodings
    num_ptr_tokens: int  # the last tokens of ``memory`` are object-pointer tokens
    padding_mask: torch.Tensor | None  # B x M bool, True = padding; None when no row is padded


class MemoryBank:
    """Per-object memory slots of one shape for the whole stream.

    Row ``i`` holds object ``i``'s memories in ``max_cond_frames + num_maskmem - 1`` slots
    (``mem_dim x h x w`` bfloat16 each) and its object pointers in ``max_cond_frames +
    max_obj_ptrs_in_encoder - 1`` slots (``C`` each):

    - conditioning slots ``0 .. max_cond_frames - 1``: frames the user prompted that serve as
      conditioning frames, in ascending frame order. When they are full, a new one evicts the
      oldest one except slot 0: the object's first prompt is always kept.
    - recent memory slots: a ring of the last ``num_maskmem - 1`` (6) frames, slot
      ``frame % 6``; pointer slots: a ring of the last ``max_obj_ptrs_in_encoder - 1`` (15)
      frames, slot ``frame % 15``.

    Which frame each slot holds is host-side bookkeeping, so building the attention input needs
    no device-to-host synchronization. Nothing grows with the stream's length.
    """

    def __init__(self, model: SAM2Model, max_cond_frames: int = 4, pad_to_capacity: bool = False) -> None:
        cfg = model.config
        if max_cond_frames < 2:
            raise ValueError(f"max_cond_frames must be at least 2 (the first prompt + one more), got {max_cond_frames}")
        self.model = model
        self.max_cond_frames = max_cond_frames
        self.num_recent = cfg.num_maskmem - 1
        self.num_recent_ptrs = cfg.max_obj_ptrs_in_encoder - 1 if cfg.use_obj_ptrs_in_encoder else 0
        # pad every step to the full capacity (one shape forever, e.g. for CUDA graphs) instead of
        # to the largest number of memories any object of the batch has
        self.pad_to_capacity = pad_to_capacity
        self._feat_hw = (cfg.feat_size, cfg.feat_size)
        self._mem = torch.zeros(
            0,
            max_cond_frames + self.num_recent,
            cfg.mem_dim,
            *self._feat_hw,
            dtype=MEMORY_DTYPE,
            device=model.device,
        )
        self._ptr = torch.zeros(
            0, max_cond_frames + self.num_recent_ptrs, cfg.d_model, dtype=model.dtype, device=model.device
        )
        self._pos: torch.Tensor | None = None  # (h * w) x mem_dim, the same for every memory
        self._cond_frames: list[list[int]] = []
        self._recent_frames: list[list[int]] = []
        self._ptr_frames: list[list[int]] = []

    def __len__(self) -> int:
        return len(self._cond_frames)

    # ------------------------------------------------------------------ rows
    def add_object(self) -> int:
        """Append an empty row; returns its index."""
        # zeros, not empty: padded attention slots must hold finite values
        for name in ("_mem", "_ptr"):
            t = getattr(self, name)
            setattr(self, name, torch.cat([t, t.new_zeros(1, *t.shape[1:])]))
        self._cond_frames.append([])
        self._recent_frames.append([EMPTY] * self.num_recent)
        self._ptr_frames.append([EMPTY] * self.num_recent_ptrs)
        return len(self) - 1

    def remove_object(self, row: int) -> None:
        keep = torch.tensor([i for i in range(len(self)) if i != row], dtype=torch.long, device=self._mem.device)
        self._mem = self._mem.index_select(0, keep)
        self._ptr = self._ptr.index_select(0, keep)
        for table in (self._cond_frames, self._recent_frames, self._ptr_frames):
            del table[row]

    def clear(self) -> None:
        self._mem = self._mem[:0].clone()
        self._ptr = self._ptr[:0].clone()
        self._pos = None
        self._cond_frames.clear()
        self._recent_frames.clear()
        self._ptr_frames.clear()

    def cond_frames(self, row: int) -> list[int]:
        """Frame indices of object ``row``'s conditioning memories, ascending."""
        return list(self._cond_frames[row])

    # ------------------------------------------------------------------ writes
    def set_position_encoding(self, pos: torch.Tensor) -> None:
        """The memory encoder's spatial encoding ``mem_dim x h x w`` (depends only on the size)."""
        if self._pos is None:
            self._pos = pos.flatten(1).t().contiguous()

    def write_cond(self, row: int, frame: int, mem: torch.Tensor, ptr: torch.Tensor) -> None:
        """Store a conditioning memory ``mem_dim x h x w`` and pointer ``C`` of ``frame`` (the newest)."""
        cond = self._cond_frames[row]
        k = self.max_cond_frames
        if len(cond) == k:
            # evict the oldest conditioning frame but the first prompt, keeping ascending order
            self._mem[row, 1 : k - 1] = self._mem[row, 2:k].clone()
            self._ptr[row, 1 : k - 1] = self._ptr[row, 2:k].clone()
            del cond[1]
        slot = len(cond)
        self._mem[row, slot] = mem.to(MEMORY_DTYPE)
        self._ptr[row, slot] = ptr.to(self._ptr.dtype)
        cond.append(frame)
        # a conditioning frame is never also a recent memory (the reference drops it there too)
        for table in (self._recent_frames[row], self._ptr_frames[row]):
            if table and table[frame % len(table)] == frame:
                table[frame % len(table)] = EMPTY

    def write_recent(self, rows: list[int], frame: int, mem: torch.Tensor, ptr: torch.Tensor) -> None:
        """Store ``frame``'s memories ``len(rows) x mem_dim x h x w`` and pointers ``len(rows) x C``."""
        if not rows:
            return
        # all rows in order (every tracked frame): a slice, no index to copy to the device
        index = slice(None) if rows == list(range(len(self))) else to_device(rows, self._mem.device)
        k = self.max_cond_frames
        slot = frame % self.num_recent
        self._mem[index, k + slot] = mem.to(MEMORY_DTYPE)
        for r in rows:
            self._recent_frames[r][slot] = frame
        if self.num_recent_ptrs:
            ptr_slot = frame % self.num_recent_ptrs
            self._ptr[index, k + ptr_slot] = ptr.to(self._ptr.dtype)
            for r in rows:
                self._ptr_frames[r][ptr_slot] = frame

    # ------------------------------------------------------------------ reads
    def _layout(self, row: int, frame: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(slot, t_pos) of the memories and (slot, frame offset) of the pointers object ``row`` attends
        to at ``frame``, in the reference's order: conditioning frames, then the recent frames oldest
        first; conditioning pointers, then the recent pointers newest first."""
        k = self.max_cond_frames
        cond = self._cond_frames[row]
        frames = [(i, 0) for i in range(len(cond))]
        recent = self._recent_frames[row]
        for t_pos in range(1, self.num_recent + 1):
            g = frame - (self.num_recent + 1 - t_pos)
            if g >= 0 and recent[g % self.num_recent] == g:
                frames.append((k + g % self.num_recent, t_pos))
        pointers = []
        if self.num_recent_ptrs:
            # conditioning frames are all in the past of a stream: signed and unsigned offsets agree
            pointers = [(i, frame - t) for i, t in enumerate(cond)]
            ptr_frames = self._ptr_frames[row]
            for offset in range(1, self.num_recent_ptrs + 1):
                g = frame - offset
                if g < 0:
                    break
                if ptr_frames[g % self.num_recent_ptrs] == g:
                    pointers.append((k + g % self.num_recent_ptrs, offset))
        return frames, pointers

    def gather(self, rows: list[int], frame: int) -> MemoryTokens:
        """Memory tokens of objects ``rows`` for processing ``frame``, padded to a common length."""
        if self._pos is None:
            raise RuntimeError("the memory bank holds no memory yet")
        model = self.model
        device = self._mem.device
        layouts = [self._layout(r, frame) for r in rows]
        if any(not frames for frames, _ in layouts):
            raise RuntimeError("an object without any memory cannot be tracked")
        if self.pad_to_capacity:
            num_frames, num_ptrs = self._mem.shape[1], self._ptr.shape[1] if self.num_recent_ptrs else 0
        else:
            num_frames = max(len(f) for f, _ in layouts)
            num_ptrs = max(len(p) for _, p in layouts)

        def padded(entries: list[tuple[int, int]], length: int) -> tuple[list[int], list[int], list[bool]]:
            # padding repeats slot 0 (a conditioning slot, always finite) and is masked out
            pad = length - len(entries)
            return (
                [s for s, _ in entries] + [0] * pad,
                [v for _, v in entries] + [0] * pad,
                [False] * len(entries) + [True] * pad,
            )

        f_slots, f_tpos, f_pad, p_slots, p_offsets, p_pad = [], [], [], [], [], []
        for frames, pointers in layouts:
            s, t, m = padded(frames, num_frames)
            f_slots.append(s), f_tpos.append(t), f_pad.append(m)
            s, t, m = padded(pointers, num_ptrs)
            p_slots.append(s), p_offsets.append(t), p_pad.append(m)
        any_padding = any(any(m) for m in f_pad) or any(any(m) for m in p_pad)

        def on_device(values: list[list[int]]) -> torch.Tensor:
            return to_device(values, device)

        b = len(rows)
        row_index = on_device([[r] for r in rows])
        mem_dim = self._mem.shape[2]
        hw = self._pos.shape[0]
        # B x F x mem_dim x h x w -> (F * h * w) x B x mem_dim: each frame's tokens in raster order
        mem = self._mem[row_index, on_device(f_slots)].to(self._ptr.dtype)
        memory = mem.flatten(3).permute(1, 3, 0, 2).reshape(num_frames * hw, b, mem_dim)
        # spatial encoding + temporal encoding of the slot's t_pos, as the reference adds them
        num_maskmem = model.num_maskmem
        tpos_index = num_maskmem - 1 - on_device(f_tpos)
        tpos = model.maskmem_tpos_enc.view(num_maskmem, mem_dim)[tpos_index]  # B x F x mem_dim
        pos = self._pos[None, :, None, :] + tpos.transpose(0, 1)[:, None]  # F x (h * w) x B x mem_dim
        pos = pos.reshape(num_frames * hw, b, mem_dim)
        num_ptr_tokens = 0
        masks = [torch.tensor(f_pad).repeat_interleave(hw, dim=1)]
        if num_ptrs:
            ptrs = self._ptr[row_index, on_device(p_slots)].transpose(0, 1)  # P x B x C
            offsets = on_device(p_offsets)
            ptr_pos = model.pointer_time_encoding(offsets.flatten(), model.config.max_obj_ptrs_in_encoder)
            ptr_pos = ptr_pos.view(b, num_ptrs, mem_dim).transpose(0, 1)
            ptr_tokens, ptr_pos = model.pointer_tokens(ptrs, ptr_pos)
            num_ptr_tokens = ptr_tokens.shape[0]
            memory = torch.cat([memory, ptr_tokens], dim=0)
            pos = torch.cat([pos, ptr_pos], dim=0)
            masks.append(torch.tensor(p_pad).repeat_interleave(num_ptr_tokens // num_ptrs, dim=1))
        padding_mask = to_device(torch.cat(masks, dim=1), device) if any_padding else None
        return MemoryTokens(memory, pos, num_ptr_tokens, padding_mask)

    # ------------------------------------------------------------------ accounting
    def nbytes(self) -> int:
        """Bytes of tensor storage the bank holds."""
        tensors = [self._mem, self._ptr] + ([self._pos] if self._pos is not None else [])
        return sum(t.untyped_storage().nbytes() for t in tensors)


def to_device(values: list | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host bookkeeping (lists of ints, or a CPU tensor) on ``device`` without a host synchronization.

    On CUDA the values go through pinned memory: a non-blocking copy from pageable memory would
    wait for the stream to drain first. The caching host allocator keeps the pinned block until
    the copy is done.
    """
    t = values if isinstance(values, torch.Tensor) else torch.tensor(values, dtype=torch.long)
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)
