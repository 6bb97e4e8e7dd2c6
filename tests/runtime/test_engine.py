"""The engine against transformers' greedy `generate`, with the cache on, off and under pressure."""

from __future__ import annotations

import gc
import random
import weakref

import pytest
import torch
import transformers

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import FinishReason, Request, SamplingParams

NEW_TOKENS = 8


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir))


@pytest.fixture(scope="module")
def prompts(loaded) -> list[list[int]]:
    """32 random prompts; half share a long prefix so the radix cache has work to do."""
    rng = random.Random(1234)
    bos = loaded.tokenizer.bos_token_id
    vocab = loaded.model.vocab_size
    shared = [rng.randrange(3, vocab) for _ in range(40)]
    out = []
    for i in range(32):
        own = [rng.randrange(3, vocab) for _ in range(rng.randrange(3, 30))]
        out.append([bos, *(shared if i % 2 else []), *own])
    return out


@pytest.fixture(scope="module")
def hf_greedy(small_model_dir, prompts) -> list[list[int]]:
    model = transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32)
    model.eval()
    outs = []
    with torch.no_grad():
        for ids in prompts:
            x = torch.tensor([ids])
            y = model.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                pad_token_id=0,
            )
            outs.append(y[0, len(ids) :].tolist())
    return outs


def run_engine(loaded, prompts, **config) -> tuple[list[list[int]], Engine]:
    engine = Engine(EngineConfig(**config), loaded=loaded)
    params = SamplingParams(max_tokens=NEW_TOKENS, ignore_eos=True)
    handles = [engine.submit(Request(ids, params)) for ids in prompts]
    engine.run_until_done()
    assert all(h.done for h in handles)
    assert_no_leak(engine)
    return [h.output.output_ids for h in handles], engine


def assert_no_leak(engine: Engine) -> None:
    """Once every request has ended, each allocated slot is held by the tree, and nothing locked."""
    assert engine.cache.protected_size == 0
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_greedy_matches_transformers(loaded, prompts, hf_greedy, batch_size):
    outs, engine = run_engine(loaded, prompts, max_running_requests=batch_size)
    assert outs == hf_greedy
    assert engine.stats().cached_tokens > 0


def test_cache_off_gives_the_same_tokens(loaded, prompts, hf_greedy):
    outs, engine = run_engine(loaded, prompts, enable_radix_cache=False, max_running_requests=16)
    assert outs == hf_greedy
    assert engine.stats().cached_tokens == 0


def test_eviction_and_preemption_keep_outputs_exact(loaded, prompts, hf_greedy):
    outs, engine = run_engine(
        loaded, prompts, kv_cache_tokens=160, max_running_requests=16, decode_reserve_tokens=0
    )
    assert outs == hf_greedy
    stats = engine.stats()
    assert stats.preemptions > 0
    assert stats.evicted_tokens > 0


def test_chunked_prefill_matches(loaded, prompts, hf_greedy):
    outs, _ = run_engine(loaded, prompts, chunk_size=7, max_batch_tokens=24)
    assert outs == hf_greedy


def test_prompt_logprobs_match_transformers(loaded, small_model_dir, prompts):
    model = transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32)
    engine = Engine(EngineConfig(), loaded=loaded)
    ids = prompts[1]
    engine.submit(Request(ids[:-5], SamplingParams(max_tokens=0)))  # warm the cache with a prefix
    engine.run_until_done()
    handle = engine.submit(Request(ids, SamplingParams(max_tokens=0), logprob_start=len(ids) - 5))
    engine.run_until_done()
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    expected = [logp[p - 1, ids[p]].item() for p in range(len(ids) - 5, len(ids))]
    assert handle.output.prompt_logprobs == pytest.approx(expected, abs=1e-4)
    assert handle.output.finish_reason == FinishReason.LENGTH
    assert handle.output.output_ids == []


def test_pinned_prefix_is_never_evicted(loaded, prompts):
    engine = Engine(EngineConfig(kv_cache_tokens=120), loaded=loaded)
    pinned = prompts[1][:40]
    engine.submit(Request(pinned, SamplingParams(max_tokens=0), rid="prefix", pin=True))
    engine.run_until_done()
    for ids in prompts[::2]:
        engine.submit(Request(ids, SamplingParams(max_tokens=NEW_TOKENS, ignore_eos=True)))
    engine.run_until_done()
    slots, _ = engine.cache.match_prefix(pinned)
    assert len(slots) == len(pinned)
    engine.unpin("prefix")
    assert_no_leak(engine)


def test_pinning_with_the_cache_off_leaks_nothing(loaded, prompts):
    engine = Engine(EngineConfig(enable_radix_cache=False), loaded=loaded)
    engine.submit(Request(prompts[1], SamplingParams(max_tokens=0), rid="prefix", pin=True))
    engine.run_until_done()
    engine.unpin("prefix")
    assert engine.pool.num_free == engine.pool.capacity


def test_finished_requests_are_released(loaded, prompts):
    """The engine keeps no output once a request finished: only the caller's handle does."""
    engine = Engine(EngineConfig(), loaded=loaded)
    refs = []
    for ids in prompts[:4]:
        handle = engine.submit(Request(ids, SamplingParams(max_tokens=2)))
        engine.run_until_done()
        assert handle.done
        refs.append(weakref.ref(handle.output))
        del handle
    gc.collect()
    assert [r() for r in refs] == [None] * 4
    engine.submit(Request(prompts[0], SamplingParams(max_tokens=2), rid="a"))
    with pytest.raises(ValueError, match="already in flight"):
        engine.submit(Request(prompts[1], SamplingParams(max_tokens=2), rid="a"))
    engine.run_until_done()
    again = engine.submit(Request(prompts[1], SamplingParams(max_tokens=2), rid="a"))  # finished ids are free
    engine.run_until_done()
    assert again.done


def test_stop_conditions(loaded, prompts):
    engine = Engine(EngineConfig(), loaded=loaded)
    free = engine.generate([prompts[0]], SamplingParams(max_tokens=NEW_TOKENS, ignore_eos=True))[0]
    second = free.output_ids[1]
    by_id = engine.generate([prompts[0]], SamplingParams(max_tokens=NEW_TOKENS, stop_token_ids=(second,)))[0]
    assert by_id.finish_reason == FinishReason.STOP
    assert by_id.output_ids == free.output_ids[:2]
    text = engine.tokenizer.decode_continuation(free.output_ids)
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    by_text = engine.generate([prompts[0]], SamplingParams(max_tokens=NEW_TOKENS, stop=(stop,)))[0]
    assert by_text.finish_reason == FinishReason.STOP
    assert by_text.text == text[: text.find(stop)]
    engine.eos_ids = frozenset({second})
    by_eos = engine.generate([prompts[0]], SamplingParams(max_tokens=NEW_TOKENS))[0]
    assert by_eos.finish_reason == FinishReason.EOS
    assert by_eos.output_ids == free.output_ids[:2]
    assert by_eos.text == engine.tokenizer.decode_continuation(free.output_ids[:1])
    ignoring = engine.generate([prompts[0]], SamplingParams(max_tokens=NEW_TOKENS, ignore_eos=True))[0]
    assert ignoring.output_ids == free.output_ids
    assert_no_leak(engine)


def test_seeded_sampling_is_reproducible_in_any_batch(loaded, prompts):
    params = SamplingParams(max_tokens=NEW_TOKENS, temperature=0.9, top_p=0.9, top_k=50, seed=7, ignore_eos=True)
    alone = Engine(EngineConfig(), loaded=loaded).generate([prompts[3]], params)[0].output_ids
    engine = Engine(EngineConfig(), loaded=loaded)
    mixed = engine.generate(
        [prompts[3], *prompts[4:10]],
        params,
    )
    assert mixed[0].output_ids == alone
    other_seed = Engine(EngineConfig(), loaded=loaded).generate(
        [prompts[3]], SamplingParams(max_tokens=NEW_TOKENS, temperature=0.9, seed=8, ignore_eos=True)
    )[0]
    assert other_seed.output_ids != alone


def test_invalid_requests_are_refused_clearly(loaded):
    engine = Engine(EngineConfig(kv_cache_tokens=64), loaded=loaded)
    with pytest.raises(ValueError, match="empty"):
        engine.submit(Request([]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        engine.submit(Request([loaded.model.vocab_size + 5]))
    with pytest.raises(ValueError, match="KV slots"):
        engine.submit(Request([1] * 60, SamplingParams(max_tokens=10)))
