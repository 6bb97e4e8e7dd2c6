"""A host-memory tier under the radix cache: evicted KV kept in (pinned) host memory, loaded
back on a later hit instead of recomputed (SGLang's HiCache, one level).

When the radix cache evicts a leaf, `store` copies the K/V of its slots, all layers, into host
memory under a byte budget and the device slots are freed at once; the entry is keyed by the
tokens before it and its own tokens. A later match that ends where an entry begins `take`s it,
gets fresh device slots and `load`s the matched part back; a remainder goes back into the tier
under its new position. Least recently stored entries are dropped when the budget is full.

On CUDA, host buffers are pinned and the device-to-host copy of a write-back runs on a side
stream, so the host never waits for it and the compute stream goes on; the gather it copies
from runs on the compute stream, ordered before any later kernel that reuses the slots. A load
runs on the side stream after the work already queued on the compute stream (an in-flight
forward may still write slots that were just evicted) and the compute stream waits for it
before the next forward. On the CPU both are plain synchronous copies.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lmc.runtime.kv_pool import KVPool


@dataclass
class HostEntry:
    """The KV of `key`, the tokens that follow `path`; `k`/`v` are [len(key), layers, heads, dim],
    token-major so that the part of an entry a partial hit leaves behind is contiguous (a pinned
    copy from a non-contiguous view would be staged through pageable memory)."""

    path: tuple[int, ...]
    key: tuple[int, ...]
    k: torch.Tensor
    v: torch.Tensor
    copied: torch.cuda.Event | None = None  # the write-back's copy (CUDA only)

    def matched(self, tokens: Sequence[int], depth: int) -> int:
        """How many of `key` the tokens from `depth` on spell."""
        n = 0
        for mine, theirs in zip(self.key, tokens[depth:]):
            if mine != theirs:
                break
            n += 1
        return n


@dataclass
class TierStats:
    stored_tokens: int = 0  # written back on eviction
    loaded_tokens: int = 0  # copied back on a hit: prefill saved
    dropped_tokens: int = 0  # fell out of the budget


class HostTier:
    """Evicted radix-cache leaves in host memory, at most `budget_bytes` of K/V, LRU by store."""

    def __init__(self, pool: KVPool, budget_bytes: int) -> None:
        self.pool = pool
        k = pool.k_caches[0]
        self.token_bytes = KVPool.bytes_per_token(len(pool.k_caches), k.shape[1], k.shape[2], k.dtype)
        self.capacity_tokens = budget_bytes // self.token_bytes
        self.device = k.device
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self.entries: OrderedDict[tuple[tuple[int, ...], int], HostEntry] = OrderedDict()
        self.size_tokens = 0
        self.stats = TierStats()

    def __len__(self) -> int:
        return len(self.entries)

    def store(self, path: tuple[int, ...], key: tuple[int, ...], slots: torch.Tensor) -> None:
        """Copy the KV in `slots` (the tokens `key` after `path`) to the host; the caller may free
        the slots as soon as this returns."""
        if len(key) > self.capacity_tokens:
            return
        index = self._on_device(slots)
        k = torch.stack([cache[index] for cache in self.pool.k_caches], dim=1)
        v = torch.stack([cache[index] for cache in self.pool.v_caches], dim=1)
        entry = HostEntry(path, key, *self._to_host(k, v))
        self._put(entry)
        self.stats.stored_tokens += len(key)

    def take(self, tokens: Sequence[int], depth: int) -> HostEntry | None:
        """Remove and return the entry that continues `tokens[:depth]` with `tokens[depth]`."""
        if depth >= len(tokens) or not self.entries:
            return None
        entry = self.entries.pop((tuple(tokens[:depth]), tokens[depth]), None)
        if entry is not None:
            self.size_tokens -= len(entry.key)
        return entry

    def give_back(self, entry: HostEntry) -> None:
        """Return an entry that `take` handed out but that could not be loaded."""
        self._put(entry)

    def load(self, entry: HostEntry, n: int, slots: torch.Tensor) -> None:
        """Write the KV of `entry.key[:n]` into device `slots`; the rest of the entry stays in the
        tier, keyed where it now begins."""
        index = self._on_device(slots)
        if self.stream is None:
            self._scatter(entry.k[:n], entry.v[:n], index)
        else:
            compute = torch.cuda.current_stream(self.device)
            self.stream.wait_stream(compute)
            with torch.cuda.stream(self.stream):
                if entry.copied is not None:
                    self.stream.wait_event(entry.copied)
                k = entry.k[:n].to(self.device, non_blocking=True)
                v = entry.v[:n].to(self.device, non_blocking=True)
                self._scatter(k, v, index)
            index.record_stream(self.stream)
            compute.wait_stream(self.stream)
        self.stats.loaded_tokens += n
        if n < len(entry.key):
            rest = HostEntry(entry.path + entry.key[:n], entry.key[n:], entry.k[n:], entry.v[n:], entry.copied)
            self._put(rest)

    # ---- internals -----------------------------------------------------------------------
    def _on_device(self, slots: torch.Tensor) -> torch.Tensor:
        """Slot ids on the pool's device without waiting: a copy from pageable memory would wait
        for the forward in flight (overlap scheduling evicts while it runs)."""
        if self.stream is None:
            return slots
        return slots.pin_memory().to(self.device, non_blocking=True)

    def _to_host(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.cuda.Event | None]:
        if self.stream is None:
            return k, v, None  # the gather already made host copies
        host_k = torch.empty(k.shape, dtype=k.dtype, pin_memory=True)
        host_v = torch.empty(v.shape, dtype=v.dtype, pin_memory=True)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.stream):
            host_k.copy_(k, non_blocking=True)
            host_v.copy_(v, non_blocking=True)
            copied = torch.cuda.Event()
            copied.record(self.stream)
        k.record_stream(self.stream)
        v.record_stream(self.stream)
        return host_k, host_v, copied

    def _scatter(self, k: torch.Tensor, v: torch.Tensor, index: torch.Tensor) -> None:
        for layer, (k_cache, v_cache) in enumerate(zip(self.pool.k_caches, self.pool.v_caches)):
            k_cache[index] = k[:, layer]
            v_cache[index] = v[:, layer]

    def _put(self, entry: HostEntry) -> None:
        """Add `entry` as the newest; an older copy of the same tokens and the oldest entries
        beyond the budget go."""
        slot = (entry.path, entry.key[0])
        old = self.entries.pop(slot, None)
        if old is not None:
            self.size_tokens -= len(old.key)
            self.stats.dropped_tokens += len(old.key)
        self.entries[slot] = entry
        self.size_tokens += len(entry.key)
        while self.size_tokens > self.capacity_tokens:
            _, dropped = self.entries.popitem(last=False)
            self.size_tokens -= len(dropped.key)
            self.stats.dropped_tokens += len(dropped.key)
