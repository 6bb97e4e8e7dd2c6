"""The host KV tier: evicted leaves come back with their own KV (a marker per prefix, as in
test_radix_cache), no device slot is ever both free and held, the budget holds, and the
engine's greedy outputs are the same with the tier on and off under heavy eviction while the
tier saves prefill."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.kv_tier import HostTier
from lmc.runtime.radix_cache import RadixCache
from lmc.runtime.request import SamplingParams

LAYERS = 2


def _tier_cache(slots: int, host_tokens: int) -> tuple[KVPool, RadixCache]:
    pool = KVPool(slots, LAYERS, 1, 1, torch.float32, "cpu")
    tier = HostTier(pool, host_tokens * KVPool.bytes_per_token(LAYERS, 1, 1, torch.float32))
    return pool, RadixCache(pool, tier=tier)


def test_an_evicted_prefix_comes_back_from_the_host_with_its_kv():
    pool, cache = _tier_cache(8, 100)
    tokens = [5, 6, 7, 8, 9]
    slots = pool.alloc(5)
    for layer in range(LAYERS):
        pool.k_caches[layer][slots, 0, 0] = torch.arange(5.0) + 10 * layer
        pool.v_caches[layer][slots, 0, 0] = -torch.arange(5.0)
    _, root = cache.match_prefix(tokens)
    cache.lock(root)
    cache.cache_request(tokens, slots, root, finished=True)
    assert cache.evict(5) == 5 and pool.num_free == 8 and cache.total_size() == 0
    back, node = cache.match_prefix(tokens[:3] + [0])  # a partial hit loads 3, keeps 2 on the host
    assert back.numel() == 3 and cache.tier.stats.loaded_tokens == 3
    for layer in range(LAYERS):
        assert pool.k_caches[layer][back, 0, 0].tolist() == [10.0 * layer + i for i in range(3)]
    assert pool.v_caches[0][back, 0, 0].tolist() == [0.0, -1.0, -2.0]
    whole, _ = cache.match_prefix(tokens)
    assert whole[:3].tolist() == back.tolist() and whole.numel() == 5
    assert pool.k_caches[1][whole, 0, 0].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert len(cache.tier) == 0 and cache.tier.size_tokens == 0


def test_the_budget_drops_the_oldest_entries():
    pool, cache = _tier_cache(16, 6)
    for first in (1, 2, 3):
        tokens = [first] * 4
        _, root = cache.match_prefix(tokens)
        cache.lock(root)
        cache.cache_request(tokens, pool.alloc(4), root, finished=True)
        cache.evict(4)
    assert cache.tier.size_tokens == 4 and cache.tier.stats.dropped_tokens == 8
    assert cache.match_prefix([3] * 4)[0].numel() == 4 and cache.match_prefix([1] * 4)[0].numel() == 0


class TieredEngineLike(RuleBasedStateMachine):
    """Requests start (match, lock, allocate, write), finish, and eviction happens at random, on
    a small pool over a small host tier. Each slot's K holds a marker for the prefix whose KV it
    stores, so a slot loaded with the wrong entry, or freed and reused while still held, shows a
    foreign marker."""

    tokens = st.lists(st.integers(0, 2), min_size=1, max_size=6)

    def __init__(self) -> None:
        super().__init__()
        self.pool, self.cache = _tier_cache(12, 9)
        self.markers: dict[tuple[int, ...], float] = {}
        self.reqs: list[dict] = []

    def marker(self, prefix: tuple[int, ...]) -> float:
        return self.markers.setdefault(prefix, float(len(self.markers) + 1))

    def alloc(self, n: int) -> torch.Tensor | None:
        if n > self.pool.num_free:
            self.cache.evict(n - self.pool.num_free)
        return self.pool.alloc(n)

    @rule(tokens=tokens)
    def start(self, tokens: list[int]) -> None:
        prefix, node = self.cache.match_prefix(tokens)
        for i, slot in enumerate(prefix.tolist()):  # a hit, from the device or the host
            assert self.pool.k_caches[0][slot, 0, 0] == self.marker(tuple(tokens[: i + 1]))
        self.cache.lock(node)
        request = dict(tokens=tokens, node=node, m=prefix.numel(), slots=prefix)
        self.reqs.append(request)  # listed first, so the eviction below sees its lock
        new = self.alloc(len(tokens) - prefix.numel())
        if new is None:
            self.cache.unlock(node)
            self.reqs.pop()
            return
        request["slots"] = torch.cat([prefix, new])
        for i in range(prefix.numel(), len(tokens)):
            for cache in self.pool.k_caches:
                cache[int(request["slots"][i]), 0, 0] = self.marker(tuple(tokens[: i + 1]))

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        if self.reqs:
            request = self.reqs.pop(data.draw(st.integers(0, len(self.reqs) - 1)))
            self.cache.cache_request(request["tokens"], request["slots"], request["node"], finished=True)

    @rule(n=st.integers(1, 8))
    def evict(self, n: int) -> None:
        self.cache.evict(n)

    def tree(self) -> dict[tuple[int, ...], int]:
        out, stack = {}, [(self.cache.root, ())]
        while stack:
            node, path = stack.pop()
            for i in range(len(node.key)):
                out[path + node.key[: i + 1]] = int(node.slots[i])
            stack += [(c, path + node.key) for c in node.children.values()]
        return out

    @invariant()
    def no_slot_is_both_free_and_held(self) -> None:
        held = list(self.tree().values()) + [s for r in self.reqs for s in r["slots"][r["m"] :].tolist()]
        assert len(held) == len(set(held)) and 0 not in held
        assert self.pool.num_free + len(held) == self.pool.capacity
        free = self.pool.alloc(self.pool.num_free)
        assert not set(free.tolist()) & set(held)
        self.pool.free(free)

    @invariant()
    def device_and_host_kv_belong_to_their_tokens(self) -> None:
        for prefix, slot in self.tree().items():
            assert all(cache[slot, 0, 0] == self.marker(prefix) for cache in self.pool.k_caches)
        for request in self.reqs:
            for i, slot in enumerate(request["slots"].tolist()):
                assert self.pool.k_caches[1][slot, 0, 0] == self.marker(tuple(request["tokens"][: i + 1]))
        tier = self.cache.tier
        for entry in tier.entries.values():
            expect = [self.marker(entry.path + entry.key[: i + 1]) for i in range(len(entry.key))]
            assert entry.k[:, :, 0, 0].tolist() == [[m] * LAYERS for m in expect]
        assert tier.size_tokens == sum(len(e.key) for e in tier.entries.values()) <= tier.capacity_tokens

    def teardown(self) -> None:
        for request in self.reqs:
            self.cache.cache_request(request["tokens"], request["slots"], request["node"], finished=True)
        self.cache.evict(10**6)
        assert self.pool.num_free == self.pool.capacity


TestTieredEngineLike = TieredEngineLike.TestCase
TestTieredEngineLike.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


# ---- the engine: multi-turn sessions whose KV is several times the device cache -------------

SESSIONS = 5
KV_SLOTS = 160


def _sessions(engine: Engine) -> list[list[int]]:
    return [engine.tokenizer.encode(f"Session {s}: a long system prompt that each turn of this chat repeats, "
                                    f"about topic number {s} and nothing else at all. User: hello {s}", add_bos=True)
            for s in range(SESSIONS)]


def _chat(model_dir, host_tokens: int, device: str = "cpu") -> tuple[list[list[int]], Engine]:
    """Three turns of every session, the sessions one after another within each turn."""
    engine = Engine(EngineConfig(model=str(model_dir), kv_cache_tokens=KV_SLOTS, max_batch_tokens=64,
                                 chunk_size=32, host_kv_cache_gb=host_tokens * 512 / 2**30, device=device,
                                 dtype="float32"))
    histories = _sessions(engine)
    outputs = []
    for turn in range(3):
        for s, history in enumerate(histories):
            out = engine.generate([history], SamplingParams(max_tokens=6))[0]
            outputs.append(out.output_ids)
            history += out.output_ids + engine.tokenizer.encode(f" User: and turn {turn} of {s}?")
    return outputs, engine


@pytest.fixture(scope="module")
def reference(small_model_dir):
    outputs, engine = _chat(small_model_dir, 0)
    assert engine.stats().evicted_tokens > 2 * KV_SLOTS  # the sessions do not fit: heavy eviction
    return outputs, engine.stats()


def test_the_small_model_keeps_512_bytes_a_token(small_model_dir):
    engine = Engine(EngineConfig(model=str(small_model_dir), kv_cache_tokens=8))
    assert KVPool.bytes_per_token(engine.model.num_layers, engine.model.num_kv_heads, engine.model.head_dim,
                                  engine.loaded.dtype) == 512


@settings(max_examples=4, deadline=None)
@given(host_tokens=st.sampled_from([1, 100, 400, 10_000]))
def test_greedy_outputs_are_the_same_with_the_tier_on(small_model_dir, reference, host_tokens):
    outputs, engine = _chat(small_model_dir, host_tokens)
    expected, off = reference
    assert outputs == expected
    stats = engine.stats()
    assert stats.prefill_tokens == off.prefill_tokens - stats.host_loaded_tokens
    if host_tokens >= 400:
        assert stats.host_loaded_tokens > 0 and stats.hit_rate > off.hit_rate


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_pinned_side_stream_copies_give_the_same_greedy_outputs(small_model_dir):
    expected, off = _chat(small_model_dir, 0, "cuda")
    outputs, on = _chat(small_model_dir, 10_000, "cuda")
    assert outputs == expected
    assert on.stats().host_loaded_tokens > 0
    assert on.stats().prefill_tokens == off.stats().prefill_tokens - on.stats().host_loaded_tokens
    assert on.cache.tier.entries and all(e.k.is_pinned() for e in on.cache.tier.entries.values())
