"""What runs in the next forward: continuous batching over a paged, prefix-cached KV memory.

Each step takes every running request's pending tokens (decodes first, then chunks of long
prefills) and then admits waiting requests under a token budget and the KV memory left. Waiting
requests are ordered by the length of their cached prefix (longest first; each step's look resumes
where the last one ended, so it never re-walks a prompt) unless they have waited
`starvation_steps`, after which they go first in arrival order: cache-aware, yet never starved.
When memory runs out the scheduler evicts unlocked cache leaves, then preempts the youngest
running request, whose computed KV goes to the tree so that it resumes cheaply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from lmc.runtime.config import EngineConfig
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.radix_cache import RadixCache, common_prefix_len
from lmc.runtime.sequence import SeqStatus, Sequence

log = logging.getLogger(__name__)


@dataclass
class ScheduledBatch:
    """The sequences of one forward and how many pending tokens each computes."""

    seqs: list[Sequence] = field(default_factory=list)
    extend_lens: list[int] = field(default_factory=list)

    def add(self, seq: Sequence, n: int) -> None:
        self.seqs.append(seq)
        self.extend_lens.append(n)

    @property
    def num_tokens(self) -> int:
        return sum(self.extend_lens)


@dataclass
class SchedulerCounters:
    cached_tokens: int = 0  # tokens matched in the cache at admission
    preemptions: int = 0
    evicted_tokens: int = 0


class Scheduler:
    """Owns the waiting and running queues and every KV slot handed to a request."""

    def __init__(self, config: EngineConfig, pool: KVPool, cache: RadixCache) -> None:
        self.config = config
        self.pool = pool
        self.cache = cache
        self.waiting: list[Sequence] = []
        self.running: list[Sequence] = []
        self.step_index = 0
        self.counters = SchedulerCounters()

    def add(self, seq: Sequence) -> None:
        seq.arrival_step = self.step_index
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> ScheduledBatch:
        """Pick this step's work and give every token in it a KV slot."""
        self.step_index += 1
        batch = ScheduledBatch()
        budget = self.config.max_batch_tokens
        self._make_room_for_running()
        decodes = [s for s in self.running if len(s.token_ids) - s.num_computed == 1][:budget]
        if decodes and (slots := self._alloc(len(decodes))) is not None:
            new = slots.numpy()  # one allocation for all decodes
            for i, seq in enumerate(decodes):
                seq.put_slots(seq.num_computed, new[i : i + 1])
            batch.seqs.extend(decodes)
            batch.extend_lens.extend([1] * len(decodes))
            budget -= len(decodes)
        for seq in self.running:
            if seq.num_pending <= 1:
                continue
            n = min(seq.num_pending, self.config.chunk_size, budget)
            if n <= 0 or not self._give_slots(seq, n):
                break
            batch.add(seq, n)
            budget -= n
        if self.waiting:
            self._admit(batch, budget)
        return batch

    # ----------------------------------------------------------------- running requests

    def _make_room_for_running(self) -> None:
        """Preempt the youngest running requests until the rest can take their next chunk."""
        chunk = self.config.chunk_size
        while self.running:
            need = sum([min(len(s.token_ids) - s.num_computed, chunk) for s in self.running])
            if need <= self.pool.num_free + self.cache.evictable_size:
                return
            victim = max(self.running, key=lambda s: (s.arrival_step, s.rid))
            self.retract(victim)
            self.counters.preemptions += 1
            log.debug("preempted %s (%d tokens computed): KV memory is full", victim.rid, victim.num_computed)

    def retract(self, seq: Sequence) -> None:
        """Send a running request back to the queue; its computed KV stays cached, unlocked."""
        self._release(seq)
        self.running.remove(seq)
        seq.status = SeqStatus.WAITING
        self.waiting.insert(0, seq)

    def finish(self, seq: Sequence) -> None:
        self._release(seq)
        self.running.remove(seq)
        seq.status = SeqStatus.FINISHED

    def drop(self, seq: Sequence) -> None:
        """Finish a request that never ran (its whole output was forced at submit): it holds no
        KV, so it only leaves the queue."""
        self.waiting.remove(seq)
        seq.status = SeqStatus.FINISHED

    def pin(self, seq: Sequence) -> object:
        """Finish `seq` but keep its KV in the tree, locked; returns the node to unpin later."""
        self.cache_progress(seq)
        node = seq.node
        seq.node = None
        seq.clear_slots()
        self.running.remove(seq)
        seq.status = SeqStatus.FINISHED
        return node

    def cache_progress(self, seq: Sequence) -> None:
        """Give the tree what `seq` has computed so far, so that others can share it now."""
        if seq.request.concat is not None:
            return  # its KV is keyed by no plain token sequence
        n = seq.num_computed
        slots, node = self.cache.cache_request(
            seq.token_ids[:n], seq.slots[:n], seq.node, finished=False
        )
        seq.slot_array[:n] = slots.numpy()
        seq.node = node

    def _release(self, seq: Sequence) -> None:
        if seq.request.concat is not None:
            self._return_borrowed(seq)
            return
        n = seq.num_computed
        self.cache.cache_request(seq.token_ids[:n], seq.slots[:n], seq.node, finished=True)
        if seq.num_slots > n:  # slots handed out for a forward that never ran
            self.pool.free(seq.slots[n:])
        seq.clear_slots()
        seq.node = None
        seq.num_computed = 0

    def _borrow(self, seq: Sequence) -> tuple[torch.Tensor, list]:
        """The slots of a ConcatKV request's leading tokens, from each branch's cached path
        (locked); raises if a branch is not cached whole (it must be pinned)."""
        concat = seq.request.concat
        assert concat is not None
        limit = seq.concat_limit()
        parts, nodes, start = [], [], 0
        for i, path in enumerate(concat.paths(seq.token_ids)):
            slots, node = self.cache.match_prefix(path)
            if len(slots) < len(path):
                for held in nodes:
                    self.cache.unlock(held)
                raise RuntimeError(f"request {seq.rid}: branch {i} of its concatenation is not cached "
                                   f"({len(slots)} of {len(path)} tokens); pin every branch first")
            self.cache.lock(node)
            nodes.append(node)
            begin = 0 if i == 0 else concat.prefix
            take = slots[begin : begin + max(0, limit - start)]
            parts.append(take)
            start += len(take)
        return torch.cat(parts), nodes

    def _return_borrowed(self, seq: Sequence) -> None:
        for node in seq.borrowed_nodes:
            self.cache.unlock(node)
        self.pool.free(seq.slots[seq.borrowed :])
        seq.clear_slots()
        seq.borrowed_nodes, seq.borrowed = [], 0
        seq.node = None
        seq.num_computed = 0

    def _give_slots(self, seq: Sequence, n: int) -> bool:
        slots = self._alloc(n)
        if slots is None:
            return False
        seq.put_slots(seq.num_computed, slots.numpy())
        return True

    def _alloc(self, n: int) -> torch.Tensor | None:
        slots = self.pool.alloc(n)
        if slots is None:
            evicted = self.cache.evict(n - self.pool.num_free)
            self.counters.evicted_tokens += evicted
            log.debug("evicted %d cached tokens for %d new ones", evicted, n)
            slots = self.pool.alloc(n)
        return slots

    # ----------------------------------------------------------------- admission

    def _admit(self, batch: ScheduledBatch, budget: int) -> None:
        computing = _PrefixesInFlight(self.config.defer_shared_prefix_tokens if self.cache.enabled else 0)
        reserve = sum(self._reserve(s) for s in self.running)
        admitted = False
        for seq in self._admission_order():
            if budget <= 0 or len(self.running) >= self.config.max_running_requests:
                break
            plain = seq.request.concat is None
            if plain and computing.shares(seq.token_ids[: seq.match_limit()]):
                continue
            starved = self._is_starved(seq)
            n = self._try_admit(seq, budget, reserve)
            if n == 0:
                if starved:
                    break  # hold the line: nothing younger overtakes a starved request
                continue
            if plain:
                computing.add(seq.token_ids, seq.num_computed)
            reserve += self._reserve(seq)
            batch.add(seq, n)
            budget -= n
            admitted = True
        if admitted:  # one pass over the queue, not one list.remove per admission
            self.waiting = [s for s in self.waiting if s.status is SeqStatus.WAITING]

    def _admission_order(self) -> list[Sequence]:
        cutoff = self.step_index - self.config.starvation_steps  # arrived by then: starved
        starved, rest = [], []
        for seq in self.waiting:
            (starved if seq.arrival_step <= cutoff else rest).append(seq)
        starved.sort(key=lambda s: (s.arrival_step, s.request.priority))
        if self.config.schedule_policy == "lpm" and self.cache.enabled:
            rest.sort(key=lambda s: (-self._cached_length(s), s.request.priority, s.arrival_step))  # one look each
        else:
            rest.sort(key=lambda s: (s.request.priority, s.arrival_step))
        return starved + rest

    def _cached_length(self, seq: Sequence) -> int:
        """How much of a waiting request the cache holds, resumed from where its last look
        ended: each step pays for what the tree gained, not for the whole prompt."""
        if seq.request.concat is not None:
            return seq.concat_limit()
        node, depth, partial = self.cache.peek_match(seq.token_ids, seq.match_limit(), seq.match_node, seq.match_depth)
        seq.match_node, seq.match_depth = node, depth
        return depth + partial

    def _is_starved(self, seq: Sequence) -> bool:
        return self.step_index - seq.arrival_step >= self.config.starvation_steps

    def _reserve(self, seq: Sequence) -> int:
        """KV slots kept free for a running request's next decodes when admitting others."""
        return min(max(seq.remaining_tokens, 0), self.config.decode_reserve_tokens)

    def _try_admit(self, seq: Sequence, budget: int, reserve: int) -> int:
        """Lock the cached prefix and allocate the first chunk; 0 if memory does not allow it.
        A ConcatKV request borrows its branches' slots instead of matching its own tokens."""
        if seq.request.concat is not None:
            cached, held = self._borrow(seq)
            node = self.cache.root
        else:
            cached, node = self.cache.match_prefix(seq.token_ids[: seq.match_limit()], seq.match_node, seq.match_depth)
            self.cache.lock(node)
            held = [node]
        n = min(len(seq.token_ids) - len(cached), self.config.chunk_size, budget)
        slots = None if n > self.pool.num_free + self.cache.evictable_size - reserve else self._alloc(n)
        if slots is None:
            for locked in held:
                self.cache.unlock(locked)
            return 0
        if seq.request.concat is not None:
            seq.borrowed_nodes, seq.borrowed = held, len(cached)
        seq.node = node
        seq.match_node, seq.match_depth = None, 0
        seq.num_computed = len(cached)
        seq.put_slots(0, cached.numpy())
        seq.put_slots(len(cached), slots.numpy())
        if seq.admissions == 0:
            seq.prompt_cached_tokens = len(cached)
        seq.admissions += 1
        self.counters.cached_tokens += len(cached)
        seq.status = SeqStatus.RUNNING  # `_admit` takes it out of `waiting`
        self.running.append(seq)
        return n


class _PrefixesInFlight:
    """The prompts that requests admitted in this step are about to compute.

    A waiting request waits a step when one of them would compute most of its own uncached
    tokens anyway: when they share at least min(`threshold`, half of those tokens) past the
    admitted one's cached length (a copy of a prompt shares all of them; siblings whose own texts
    only begin alike share too few). Next step it reads them from the cache. Per distinct cached
    length c, admitted requests are kept by their first c tokens, so a check is one lookup per
    c and a comparison of at most `threshold` tokens with each request admitted past that prefix.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.runs: dict[int, dict[tuple[int, ...], list[list[int]]]] = {}

    def add(self, tokens: list[int], cached: int) -> None:
        if self.threshold > 0 and len(tokens) > cached:
            by_prefix = self.runs.setdefault(cached, {})
            by_prefix.setdefault(tuple(tokens[:cached]), []).append(tokens[cached : cached + self.threshold])

    def shares(self, tokens: list[int]) -> bool:
        for c, by_prefix in self.runs.items():
            if len(tokens) <= c or (runs := by_prefix.get(tuple(tokens[:c]))) is None:
                continue
            own = tokens[c : c + self.threshold]
            need = min(self.threshold, (len(tokens) - c + 1) // 2)
            if any(common_prefix_len(own, run) >= need for run in runs):
                return True
        return False


