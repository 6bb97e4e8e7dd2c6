"""The engine on a CUDA device: greedy parity with transformers for a small random Llama."""

from __future__ import annotations

import random

import pytest
import torch
import transformers

from lmc.kernels.attention import available_backends
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
NEW_TOKENS = 8


def _backends() -> list[str]:
    names = ["reference", "triton"]
    try:
        import flashinfer  # noqa: F401

        names.append("flashinfer")
    except ImportError:
        pass
    return [n for n in names if n in available_backends()]


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    rng = random.Random(7)
    shared = [rng.randrange(3, 32000) for _ in range(300)]
    return [
        [1, *(shared[: rng.randrange(0, 300)]), *(rng.randrange(3, 32000) for _ in range(rng.randrange(2, 40)))]
        for _ in range(24)
    ]


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


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("cache", [True, False])
def test_gpu_greedy_matches_transformers(small_model_dir, prompts, hf_greedy, backend, cache):
    loaded = load_model(str(small_model_dir), dtype="float32", device="cuda")
    engine = Engine(
        EngineConfig(device="cuda", attention_backend=backend, enable_radix_cache=cache,
                     kv_cache_tokens=4096, max_running_requests=16),
        loaded=loaded,
    )
    params = SamplingParams(max_tokens=NEW_TOKENS, ignore_eos=True)
    handles = [engine.submit(Request(ids, params)) for ids in prompts]
    engine.run_until_done()
    assert [h.output.output_ids for h in handles] == hf_greedy
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity


def test_gpu_overlap_stops_match_transformers(small_model_dir, prompts, hf_greedy):
    """Overlap scheduling with CUDA graphs: requests stop on their own greedy tokens at different
    steps (so some stop while the next step is already running), outputs still transformers'."""
    rng = random.Random(11)
    loaded = load_model(str(small_model_dir), dtype="float32", device="cuda")
    engine = Engine(
        EngineConfig(device="cuda", attention_backend="triton" if "triton" in available_backends() else "reference",
                     kv_cache_tokens=4096, max_running_requests=16, overlap_schedule=True),
        loaded=loaded,
    )
    stops = [rng.choice(out) for out in hf_greedy]
    handles = [
        engine.submit(Request(ids, SamplingParams(max_tokens=NEW_TOKENS, stop_token_ids=(stop,), ignore_eos=True)))
        for ids, stop in zip(prompts, stops)
    ]
    engine.run_until_done()
    expected = [out[: out.index(stop) + 1] for out, stop in zip(hf_greedy, stops)]
    assert [h.output.output_ids for h in handles] == expected
    assert engine.stats().overlapped_steps > 0
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
