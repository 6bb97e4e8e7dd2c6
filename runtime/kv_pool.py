"""Paged KV memory with page size 1: per-layer K and V tensors and one allocator of slot ids.

Slot 0 is a scratch slot that is never handed out: padded batch entries write their K/V there, so
no real sequence is ever overwritten. Every other slot is either free or owned by exactly one
holder (the radix cache or one running request); `free` refuses double frees so a bookkeeping bug
surfaces at the step that caused it, not as silently corrupted attention many steps later.
"""

from __future__ import annotations

import math
import mmap

import torch


class KVPool:
    """Paged KV memory (page size 1): one K and one V tensor per layer, a free list of slots.

    The free list is a preallocated int64 stack (`alloc` pops its top, `free` pushes), so both are
    a few tensor ops whatever the batch size; `_held` counts owners per slot (0 or 1) to catch
    double frees, including a slot listed twice in one `free` call.
    """

    def __init__(
        self,
        num_slots: int,
        num_layers: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> None:
        if num_slots < 1:
            raise ValueError(
                f"KVPool needs at least 1 usable slot, got num_slots={num_slots}; "
                "raise kv_cache_tokens or kv_cache_fraction in EngineConfig"
            )
        self.capacity = num_slots
        shape = (num_slots + 1, num_kv_heads, head_dim)
        self.k_caches = [_zeros(shape, dtype, device) for _ in range(num_layers)]
        self.v_caches = [_zeros(shape, dtype, device) for _ in range(num_layers)]
        # Top of the stack is the end; reversed so the first allocations get slots 1, 2, 3, ...
        self._free_stack = torch.arange(num_slots, 0, -1, dtype=torch.int64)
        self._top = num_slots
        self._held = torch.zeros(num_slots + 1, dtype=torch.int32)
        self._held[0] = 1  # the scratch slot counts as permanently held, so freeing it fails

    @property
    def num_free(self) -> int:
        return self._top

    def alloc(self, n: int) -> torch.Tensor | None:
        """Take `n` distinct free slots (ids >= 1), or return None and take nothing if too few."""
        if n < 0:
            raise ValueError(f"cannot allocate a negative number of slots ({n})")
        if n > self._top:
            return None
        slots = self._free_stack[self._top - n : self._top].flip(0)
        self._top -= n
        self._held[slots] = 1
        return slots

    def free(self, slots: torch.Tensor) -> None:
        """Return slots to the free list; raises (changing nothing) on slot 0, out-of-range ids,
        and slots that are already free or listed twice."""
        slots = slots.reshape(-1).to(device="cpu", dtype=torch.int64)
        if slots.numel() == 0:
            return
        lo, hi = int(slots.min()), int(slots.max())
        if lo < 1 or hi > self.capacity:
            raise ValueError(
                f"free() got slot ids in [{lo}, {hi}], outside the usable range [1, {self.capacity}]"
                " (slot 0 is the scratch slot and is never allocated)"
            )
        self._held.index_add_(0, slots, torch.full_like(slots, -1, dtype=torch.int32))
        wrong = self._held[slots] != 0
        if bool(wrong.any()):
            bad = slots[wrong].unique().tolist()
            self._held.index_add_(0, slots, torch.ones_like(slots, dtype=torch.int32))
            raise RuntimeError(
                f"double free of KV slots {bad[:16]}: each slot must be freed once by its one owner "
                "(the radix cache or the request holding it)"
            )
        self._free_stack[self._top : self._top + slots.numel()] = slots.flip(0)
        self._top += slots.numel()

    @staticmethod
    def bytes_per_token(
        num_layers: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype
    ) -> int:
        """Bytes of K plus V that one token occupies across all layers."""
        return (
            2 * num_layers * num_kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()
        )

    @classmethod
    def slots_for_budget(
        cls,
        budget_bytes: int,
        num_layers: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
    ) -> int:
        """Usable slots that fit in `budget_bytes`, counting the scratch slot's memory too."""
        per_token = cls.bytes_per_token(num_layers, num_kv_heads, head_dim, dtype)
        return max(budget_bytes // per_token - 1, 0)


def _zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """Zeroed KV memory. On the CPU an anonymous mapping, whose pages the kernel zeroes when
    first written: a pool costs nothing until used, where `torch.zeros` wrote all of SmolLM2's
    1 GiB up front (0.3-4 s of start-up on the 2-core VM, depending on its memory's history)."""
    if torch.device(device).type != "cpu":
        return torch.zeros(shape, dtype=dtype, device=device)
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    return torch.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).view(shape)
