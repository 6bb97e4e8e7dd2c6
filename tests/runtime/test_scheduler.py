"""Scheduling properties: bounded starvation, and exact outputs under any memory pressure."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams
from lmc.runtime.sequence import SeqStatus


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir))


def steps_until_admitted(loaded, starvation_steps: int, flood_steps: int = 60) -> int:
    """Flood the engine with requests that hit a cached prefix; count the steps a request with
    no cache hit waits before it runs."""
    rng = random.Random(0)
    vocab = loaded.model.vocab_size
    config = EngineConfig(
        max_running_requests=2, max_batch_tokens=64, starvation_steps=starvation_steps
    )
    engine = Engine(config, loaded=loaded)
    shared = [rng.randrange(3, vocab) for _ in range(48)]
    hot = SamplingParams(max_tokens=4, ignore_eos=True)
    engine.submit(Request(shared, SamplingParams(max_tokens=1)))
    engine.run_until_done()
    cold = engine.submit(Request([rng.randrange(3, vocab) for _ in range(40)], hot, rid="cold"))
    cold_seq = next(s for s in engine.scheduler.waiting if s.rid == "cold")
    for step in range(1, flood_steps + 1):
        for _ in range(2):
            engine.submit(Request(shared + [rng.randrange(3, vocab)], hot))
        engine.step()
        if cold_seq.status is not SeqStatus.WAITING:
            return step
    assert not cold.done
    return flood_steps + 1


def test_a_request_without_cache_hit_is_not_starved(loaded):
    bound = 10
    waited = steps_until_admitted(loaded, starvation_steps=bound)
    assert waited <= bound + 5  # once starved it takes the first free running slot (hot ones last 4 steps)
    # The same flood without the bound postpones it for as long as the flood lasts.
    assert steps_until_admitted(loaded, starvation_steps=10_000) > 4 * bound


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    kv_tokens=st.integers(90, 400),
    chunk=st.integers(4, 64),
    running=st.integers(1, 8),
    policy=st.sampled_from(["lpm", "fcfs"]),
    cache=st.booleans(),
)
def test_outputs_do_not_depend_on_scheduling(loaded, seed, kv_tokens, chunk, running, policy, cache):
    rng = random.Random(seed)
    vocab = loaded.model.vocab_size
    stem = [rng.randrange(3, vocab) for _ in range(30)]
    prompts = [
        stem[: rng.randrange(0, 30)] + [rng.randrange(3, vocab) for _ in range(rng.randrange(1, 20))]
        for _ in range(10)
    ]
    params = [SamplingParams(max_tokens=rng.randrange(1, 10), ignore_eos=True) for _ in prompts]

    def run(config: EngineConfig) -> tuple[list[list[int]], Engine]:
        engine = Engine(config, loaded=loaded)
        handles = [engine.submit(Request(p, sp)) for p, sp in zip(prompts, params)]
        engine.run_until_done()
        assert engine.cache.protected_size == 0
        assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
        return [h.output.output_ids for h in handles], engine

    expected, _ = run(EngineConfig())
    got, _ = run(
        EngineConfig(
            kv_cache_tokens=kv_tokens,
            chunk_size=chunk,
            max_batch_tokens=max(chunk, 16),
            max_running_requests=running,
            schedule_policy=policy,
            enable_radix_cache=cache,
            decode_reserve_tokens=rng.choice([0, 2, 8]),
        )
    )
    assert got == expected


def test_copies_admitted_together_compute_their_prompt_once(loaded):
    """Requests with the same prompt, submitted at once: one computes it, the others wait a step
    and read it from the cache (each still computes its last token, for its logits); with the
    radix cache off each computes it all. Outputs are the same either way."""
    rng = random.Random(1)
    prompt = [rng.randrange(3, loaded.model.vocab_size) for _ in range(20)]
    outputs, prefill = {}, {}
    for cache in (True, False):
        engine = Engine(EngineConfig(enable_radix_cache=cache), loaded=loaded)
        handles = [engine.submit(Request(list(prompt), SamplingParams(max_tokens=3))) for _ in range(4)]
        engine.run_until_done()
        outputs[cache] = [h.output.output_ids for h in handles]
        prefill[cache] = engine.stats().prefill_tokens
    assert prefill == {True: 20 + 3, False: 4 * 20}
    assert outputs[True] == outputs[False]


def test_only_a_large_share_of_uncached_tokens_defers():
    from lmc.runtime.scheduler import _PrefixesInFlight

    computing = _PrefixesInFlight(threshold=32)
    head = list(range(100, 140))  # cached
    computing.add(head + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], cached=40)
    assert computing.shares(head + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])  # a copy
    assert computing.shares(head + [1, 2, 3, 4, 5, 60, 70, 80])  # 5 of its 8 own tokens
    assert not computing.shares(head + [1, 2, 30, 40, 50, 60, 70, 80])  # 2 of 8: siblings
    assert not computing.shares([7, *head[1:], 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])  # another prefix
    long = list(range(1000, 1100))
    computing.add(head + long, cached=40)
    assert computing.shares(head + long[:32] + list(range(200)))  # 32 shared: the threshold
    assert not computing.shares(head + long[:31] + list(range(200)))


def test_slot_array_grows_and_keeps_what_it_holds():
    """Slots filled in place (prefill chunk, then one per decode) read back as the tensor the
    scheduler used to rebuild each step; a request past its sized array still grows."""
    import numpy as np
    import torch

    from lmc.runtime.sequence import Sequence

    seq = Sequence(Request([5, 6, 7], SamplingParams(max_tokens=2)), "r", [5, 6, 7], 3, 0)
    seq.put_slots(0, np.array([10, 11]))
    seq.put_slots(2, np.array([12]))
    assert len(seq.slot_array) == 5 and seq.slots.tolist() == [10, 11, 12]
    seq.token_ids += [8, 9, 1]  # more than max_tokens, as a test may force
    seq.put_slots(3, np.array([13, 14, 15]))
    assert seq.slots.tolist() == [10, 11, 12, 13, 14, 15]
    seq.put_slots(1, np.array([20]))  # a rewrite drops what came after it
    assert seq.slots.tolist() == [10, 20]
    seq.slots = torch.tensor([7, 8, 9])
    assert seq.slots.tolist() == [7, 8, 9] and seq.num_slots == 3
    seq.clear_slots()
    assert seq.slots.tolist() == [] and len(seq.slot_array) == 0
