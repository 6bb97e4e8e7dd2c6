"""Output logprobs and `min_tokens` in the engine, against transformers."""

from __future__ import annotations

import random

import pytest
import torch
import transformers

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import FinishReason, Request, SamplingParams


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir))


@pytest.fixture(scope="module")
def hf(small_model_dir):
    return transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def prompts(loaded) -> list[list[int]]:
    rng = random.Random(7)
    bos, vocab = loaded.tokenizer.bos_token_id, loaded.model.vocab_size
    return [[bos, *(rng.randrange(3, vocab) for _ in range(rng.randrange(4, 20)))] for _ in range(6)]


def hf_steps(hf, ids: list[int], new: int, **kwargs) -> tuple[list[int], torch.Tensor]:
    """transformers' greedy tokens and the log-softmax of its raw logits at each step."""
    x = torch.tensor([ids])
    with torch.no_grad():
        out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new, do_sample=False,
                          pad_token_id=0, output_logits=True, return_dict_in_generate=True, **kwargs)
    logits = torch.stack(out.logits, dim=1)[0].float()
    return out.sequences[0, len(ids):].tolist(), torch.log_softmax(logits, dim=-1)


def test_output_logprobs_and_top_logprobs_match_transformers(loaded, hf, prompts):
    engine = Engine(EngineConfig(), loaded=loaded)
    params = SamplingParams(max_tokens=6, ignore_eos=True)
    handles = [engine.submit(Request(ids, params, logprobs=3)) for ids in prompts]
    plain = engine.submit(Request(prompts[0], params))
    engine.run_until_done()
    for ids, handle in zip(prompts, handles):
        tokens, logp = hf_steps(hf, ids, 6)
        out = handle.output
        assert out.output_ids == tokens
        assert out.output_logprobs == pytest.approx([logp[i, t].item() for i, t in enumerate(tokens)], abs=1e-4)
        for i, pairs in enumerate(out.output_top_logprobs):
            values, best = logp[i].topk(3)
            assert [t for t, _ in pairs] == best.tolist()
            assert [v for _, v in pairs] == pytest.approx(values.tolist(), abs=1e-4)
    assert plain.output.output_logprobs is None and plain.output.output_ids == handles[0].output.output_ids


def test_min_tokens_bans_stopping_until_reached(loaded, hf, prompts):
    """Each prompt's first greedy token is made a stop token: without min_tokens the request
    stops at once; with min_tokens=4 it may not take it before 4 tokens, exactly as
    transformers' min_new_tokens bans its eos ids."""
    engine = Engine(EngineConfig(), loaded=loaded)
    for ids in prompts:
        first, _ = hf_steps(hf, ids, 1)
        stop = first[0]
        short = engine.submit(Request(ids, SamplingParams(max_tokens=8, stop_token_ids=(stop,))))
        held = engine.submit(Request(ids, SamplingParams(max_tokens=8, min_tokens=4, stop_token_ids=(stop,))))
        engine.run_until_done()
        assert short.output.output_ids == [stop] and short.output.finish_reason is FinishReason.STOP
        expected, _ = hf_steps(hf, ids, 8, min_new_tokens=4, eos_token_id=[stop])
        got = held.output.output_ids
        assert got == expected[: len(got)] and len(got) >= 4
        assert stop not in got[:4]


def test_min_tokens_also_holds_back_stop_strings(loaded, prompts):
    engine = Engine(EngineConfig(), loaded=loaded)
    (free,) = engine.generate([prompts[1]], SamplingParams(max_tokens=6, ignore_eos=True))
    word = engine.tokenizer.decode_continuation(free.output_ids[:1]).strip() or free.text[:1]
    assert word, "the first greedy token has no text to stop on"
    (stopped,) = engine.generate([prompts[1]], SamplingParams(max_tokens=6, stop=(word,), ignore_eos=True))
    (held,) = engine.generate([prompts[1]], SamplingParams(max_tokens=6, min_tokens=3, stop=(word,), ignore_eos=True))
    assert len(stopped.output_ids) == 1
    assert held.output_ids[:3] == free.output_ids[:3]
