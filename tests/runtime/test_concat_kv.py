"""SGLang's join(mode="concate_and_append") in the engine: the branches' cached KV side by side.

The reference is transformers run on the whole concatenated sequence with explicit position ids
and a 4-D attention mask that spell the semantics `ConcatKV` documents: prefix tokens at
0..p-1; branch i's tokens at p.. and attending to the prefix and to branch i only; every later
token at its index in the sequence, attending to everything before it.
"""

from __future__ import annotations

import random

import pytest
import torch
import transformers

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine, InvalidRequest
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import ConcatKV, Request, SamplingParams

NEW = 6


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir))


@pytest.fixture(scope="module")
def hf(small_model_dir):
    return transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32).eval()


def layout(prefix: int, branches: list[int], total: int, own_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Position ids and a boolean [total, total] mask (True: may attend) for the semantics above.
    `own_last`: the concatenation's last token is one the parent computes itself (it attends to
    everything), which is what the engine does when the parent has no token after the join."""
    positions = list(range(prefix))
    owner = [-1] * prefix
    for i, n in enumerate(branches):
        positions += range(prefix, prefix + n)
        owner += [i] * n
    if own_last:
        owner[-1] = -1
        positions[-1] = len(positions) - 1
    positions += range(len(positions), total)
    owner += [-1] * (total - len(owner))
    mask = torch.zeros(total, total, dtype=torch.bool)
    for q in range(total):
        for k in range(q + 1):
            mask[q, k] = owner[q] == -1 or owner[k] == -1 or owner[k] == owner[q]
    return torch.tensor([positions]), mask


def hf_concat_greedy(hf, ids: list[int], prefix: int, branches: list[int], new: int, own_last: bool = False) -> list[int]:
    out = list(ids)
    with torch.no_grad():
        for _ in range(new):
            positions, mask = layout(prefix, branches, len(out), own_last)
            logits = hf(torch.tensor([out]), position_ids=positions, attention_mask=mask[None, None]).logits
            out.append(int(logits[0, -1].argmax()))
    return out[len(ids):]


def test_the_4d_mask_reference_is_plain_causal_without_branches(hf, loaded):
    """The reference itself: with no branches its mask and positions are the ordinary ones."""
    ids = [loaded.tokenizer.bos_token_id, 5, 900, 31, 77, 4000]
    x = torch.tensor([ids])
    with torch.no_grad():
        plain = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=NEW, do_sample=False, pad_token_id=0)
    assert hf_concat_greedy(hf, ids, len(ids), [], NEW) == plain[0, len(ids):].tolist()


def make_case(loaded, seed: int) -> tuple[list[int], list[list[int]], list[int]]:
    rng = random.Random(seed)
    vocab = loaded.model.vocab_size
    prefix = [loaded.tokenizer.bos_token_id, *(rng.randrange(3, vocab) for _ in range(7))]
    branches = [[rng.randrange(3, vocab) for _ in range(rng.randrange(2, 6))] for _ in range(3)]
    tail = [rng.randrange(3, vocab) for _ in range(4)]
    return prefix, branches, tail


def run_concat(engine: Engine, prefix, branches, tail) -> tuple[list[int], int, int]:
    """Encode the branches (one batch, pinned), then the parent; the parent's output ids, and
    the prefill tokens and cached tokens its request cost."""
    pins = [engine.submit(Request(prefix + b, SamplingParams(max_tokens=0), pin=True)) for b in branches]
    engine.run_until_done()
    before = engine.stats()
    prefill, cached = before.prefill_tokens, before.cached_tokens
    ids = prefix + [t for b in branches for t in b] + tail
    concat = ConcatKV(len(prefix), tuple(len(b) for b in branches))
    handle = engine.submit(Request(ids, SamplingParams(max_tokens=NEW, ignore_eos=True), concat=concat))
    engine.run_until_done()
    after = engine.stats()
    for pin in pins:
        engine.unpin(pin.rid)
    assert engine.cache.protected_size == 0
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
    return handle.output.output_ids, after.prefill_tokens - prefill, after.cached_tokens - cached


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concatenated_kv_matches_the_masked_reference(loaded, hf, seed):
    prefix, branches, tail = make_case(loaded, seed)
    engine = Engine(EngineConfig(), loaded=loaded)
    out, prefill, cached = run_concat(engine, prefix, branches, tail)
    ids = prefix + [t for b in branches for t in b] + tail
    assert out == hf_concat_greedy(hf, ids, len(prefix), [len(b) for b in branches], NEW)
    # the branches' KV is reused: the parent computes only its own tail
    assert prefill == len(tail)
    assert cached == len(prefix) + sum(len(b) for b in branches)


def test_concatenation_differs_from_a_plain_prefill(loaded, hf):
    """Not a re-prefill in disguise: on these random weights the concatenated KV gives other
    tokens than the same ids prefilled causally (checked against transformers both ways)."""
    prefix, branches, tail = make_case(loaded, 0)
    ids = prefix + [t for b in branches for t in b] + tail
    x = torch.tensor([ids])
    with torch.no_grad():
        plain = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=NEW, do_sample=False, pad_token_id=0)
    concat = hf_concat_greedy(hf, ids, len(prefix), [len(b) for b in branches], NEW)
    assert concat != plain[0, len(ids):].tolist()


def test_a_gen_right_after_the_join_computes_the_last_token_in_the_joined_context(loaded, hf):
    prefix, branches, _ = make_case(loaded, 1)
    engine = Engine(EngineConfig(), loaded=loaded)
    out, prefill, _ = run_concat(engine, prefix, branches, [])
    ids = prefix + [t for b in branches for t in b]
    assert out == hf_concat_greedy(hf, ids, len(prefix), [len(b) for b in branches], NEW, own_last=True)
    assert prefill == 1


def test_preemption_keeps_a_concatenation_exact(loaded, hf):
    prefix, branches, tail = make_case(loaded, 2)
    ids = prefix + [t for b in branches for t in b] + tail
    expected = hf_concat_greedy(hf, ids, len(prefix), [len(b) for b in branches], NEW)
    engine = Engine(EngineConfig(kv_cache_tokens=72, decode_reserve_tokens=0, max_running_requests=8), loaded=loaded)
    pins = [engine.submit(Request(prefix + b, SamplingParams(max_tokens=0), pin=True)) for b in branches]
    engine.run_until_done()
    concat = ConcatKV(len(prefix), tuple(len(b) for b in branches))
    rng = random.Random(5)
    others = [engine.submit(Request([1, *(rng.randrange(3, 30000) for _ in range(8))],
                                    SamplingParams(max_tokens=12, ignore_eos=True))) for _ in range(4)]
    handle = engine.submit(Request(ids, SamplingParams(max_tokens=NEW, ignore_eos=True), concat=concat))
    engine.run_until_done()
    assert handle.output.output_ids == expected and all(o.done for o in others)
    assert engine.stats().preemptions > 0
    for pin in pins:
        engine.unpin(pin.rid)
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity


def test_an_uncached_branch_is_refused(loaded):
    prefix, branches, tail = make_case(loaded, 0)
    engine = Engine(EngineConfig(), loaded=loaded)
    ids = prefix + [t for b in branches for t in b] + tail
    with pytest.raises(InvalidRequest, match="branch 0 of the concatenation is not cached"):
        engine.submit(Request(ids, SamplingParams(max_tokens=2), concat=ConcatKV(len(prefix), (3, 3, 3))))
