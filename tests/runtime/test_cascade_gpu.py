"""Cascade attention in the engine on a CUDA device: greedy tokens equal transformers' and the
reference backend's, with ragged groups of rows sharing long cached prefixes."""

from __future__ import annotations

import random

import pytest
import torch
import transformers

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.prefix_groups import PrefixGrouper
from lmc.runtime.request import Request, SamplingParams

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
NEW_TOKENS = 6


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    """Three groups over prefixes of 300, 513 and 777 tokens (the last two extend the first),
    11-20 rows each with 1-40 tokens of their own, and a few rows sharing nothing long."""
    rng = random.Random(3)
    text = [1] + [rng.randrange(3, 32000) for _ in range(776)]
    out = []
    for prefix in (300, 513, 777):
        for _ in range(rng.randrange(11, 21)):
            out.append(text[:prefix] + [rng.randrange(3, 32000) for _ in range(rng.randrange(1, 41))])
    out += [[1] + [rng.randrange(3, 32000) for _ in range(rng.randrange(5, 60))] for _ in range(5)]
    rng.shuffle(out)
    return out


@pytest.fixture(scope="module")
def hf_greedy(small_model_dir, prompts) -> list[list[int]]:
    model = transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32).cuda().eval()
    outs = []
    with torch.no_grad():
        for ids in prompts:
            x = torch.tensor([ids], device="cuda")
            y = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=NEW_TOKENS,
                               min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
            outs.append(y[0, len(ids):].tolist())
    return outs


def greedy(small_model_dir, prompts, backend: str, monkeypatch, **config) -> tuple[list[list[int]], int]:
    """Greedy outputs, and how many forwards had a shared-prefix group."""
    grouped = 0

    original = PrefixGrouper.__call__

    def counting(self, seqs, extend_lens):
        nonlocal grouped
        groups = original(self, seqs, extend_lens)
        grouped += bool(groups)
        return groups

    monkeypatch.setattr(PrefixGrouper, "__call__", counting)
    loaded = load_model(str(small_model_dir), dtype="float32", device="cuda")
    engine = Engine(EngineConfig(device="cuda", attention_backend=backend, kv_cache_tokens=16384,
                                 max_running_requests=64, **config), loaded=loaded)
    handles = [engine.submit(Request(ids, SamplingParams(max_tokens=NEW_TOKENS, ignore_eos=True)))
               for ids in prompts]
    engine.run_until_done()
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
    return [h.output.output_ids for h in handles], grouped


@pytest.mark.parametrize("graphs", [True, False])
def test_cascade_greedy_matches_transformers_and_reference(small_model_dir, prompts, hf_greedy, monkeypatch, graphs):
    triton_out, grouped = greedy(small_model_dir, prompts, "triton", monkeypatch, enable_cuda_graph=graphs)
    assert grouped > 0, "no forward grouped rows over their shared prefixes"
    reference_out, _ = greedy(small_model_dir, prompts, "reference", monkeypatch)
    assert triton_out == reference_out
    assert triton_out == hf_greedy
