"""Overlap scheduling changes when the host reads tokens, never which tokens come out.

On the CPU the device work is synchronous, so these runs exercise exactly the bookkeeping the GPU
uses: placeholders in `token_ids`, tokens copied into the next forward's inputs, requests that
stop one step late, preempted requests resumed with a token still in flight.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmc.grammars import compile_constraint
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir))


def make_prompts(loaded, rng: random.Random, count: int) -> list[list[int]]:
    vocab = loaded.model.vocab_size
    stem = [rng.randrange(3, vocab) for _ in range(24)]
    return [
        stem[: rng.randrange(0, 24)] + [rng.randrange(3, vocab) for _ in range(rng.randrange(1, 16))]
        for _ in range(count)
    ]


def stop_params(loaded, prompts: list[list[int]], rng: random.Random) -> list[SamplingParams]:
    """Per prompt, settings that stop it early on one of its own greedy tokens (so requests end
    at different steps), sample it with a seed, or penalise repeats (which keeps it on the host)."""
    free = Engine(EngineConfig(), loaded=loaded).generate(prompts, SamplingParams(max_tokens=10, ignore_eos=True))
    params = []
    for out in free:
        kind = rng.choice(["stop_token", "stop_token", "length", "seeded", "penalty"])
        if kind == "stop_token":
            params.append(SamplingParams(max_tokens=10, stop_token_ids=(rng.choice(out.output_ids),)))
        elif kind == "seeded":
            params.append(SamplingParams(max_tokens=rng.randrange(1, 10), temperature=0.8, seed=rng.randrange(100), ignore_eos=True))
        elif kind == "penalty":
            params.append(SamplingParams(max_tokens=6, frequency_penalty=0.5, ignore_eos=True))
        else:
            params.append(SamplingParams(max_tokens=rng.randrange(1, 10), ignore_eos=True))
    return params


def run(loaded, prompts, params, constrained=(), **config) -> tuple[list[tuple], Engine]:
    engine = Engine(EngineConfig(**config), loaded=loaded)
    handles = [engine.submit(Request(p, sp)) for p, sp in zip(prompts, params)]
    handles += [engine.submit(request) for request in constrained]
    engine.run_until_done()
    assert engine.cache.protected_size == 0
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
    return [(h.output.output_ids, h.output.text, h.output.finish_reason) for h in handles], engine


def digits(loaded, prompt: list[int]) -> Request:
    tokenizer = loaded.tokenizer
    constraint = compile_constraint(
        regex=r"[0-9]{2,5}", token_bytes=tokenizer.token_bytes(), eos_token_id=tokenizer.eos_token_id,
        vocab_size=loaded.model.vocab_size,
    )
    return Request(prompt, SamplingParams(max_tokens=8), constraint=constraint)


def test_overlap_gives_the_same_outputs_and_overlaps(loaded):
    rng = random.Random(3)
    prompts = make_prompts(loaded, rng, 12)
    params = stop_params(loaded, prompts, rng)
    constrained = [digits(loaded, prompts[0]), digits(loaded, prompts[5])]
    expected, _ = run(loaded, prompts, params, constrained, overlap_schedule=False)
    got, engine = run(loaded, prompts, params, [digits(loaded, prompts[0]), digits(loaded, prompts[5])], overlap_schedule=True)
    assert got == expected
    assert engine.stats().overlapped_steps > 0


def test_preempted_requests_resume_with_a_token_in_flight(loaded):
    """A KV budget this small preempts requests between launching a step and reading it."""
    rng = random.Random(5)
    prompts = make_prompts(loaded, rng, 10)
    params = [SamplingParams(max_tokens=12, ignore_eos=True) for _ in prompts]
    expected, _ = run(loaded, prompts, params, overlap_schedule=False)
    got, engine = run(loaded, prompts, params, overlap_schedule=True, kv_cache_tokens=72, max_running_requests=6)
    assert got == expected
    stats = engine.stats()
    assert stats.preemptions > 0 and stats.overlapped_steps > 0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    kv_tokens=st.integers(70, 400),
    chunk=st.integers(4, 48),
    running=st.integers(1, 8),
    cache=st.booleans(),
)
def test_outputs_do_not_depend_on_overlap(loaded, seed, kv_tokens, chunk, running, cache):
    rng = random.Random(seed)
    prompts = make_prompts(loaded, rng, 8)
    params = stop_params(loaded, prompts, rng)
    expected, _ = run(loaded, prompts, params, overlap_schedule=False)
    got, _ = run(
        loaded, prompts, params, overlap_schedule=True, kv_cache_tokens=kv_tokens, chunk_size=chunk,
        max_batch_tokens=max(chunk, 16), max_running_requests=running, enable_radix_cache=cache,
    )
    assert got == expected
