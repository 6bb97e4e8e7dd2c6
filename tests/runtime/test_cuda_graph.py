"""CUDA graph replay of decode steps against the same engine run eagerly (and transformers)."""

from __future__ import annotations

import random

import pytest
import torch

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir), dtype="float32", device="cuda")


def _engine(loaded, **config) -> Engine:
    defaults = dict(device="cuda", attention_backend="triton", kv_cache_tokens=8192,
                    max_running_requests=24)
    return Engine(EngineConfig(**{**defaults, **config}), loaded=loaded)


def _prompts(seed: int, rows: int) -> list[list[int]]:
    rng = random.Random(seed)
    shared = [rng.randrange(3, 32000) for _ in range(200)]
    return [
        [1, *shared[: rng.randrange(0, 200)], *(rng.randrange(3, 32000) for _ in range(rng.randrange(2, 30)))]
        for _ in range(rows)
    ]


def _run(engine: Engine, prompts: list[list[int]]) -> list[list[int]]:
    """Greedy, with output lengths that differ per row, so the decode batch shrinks step by step
    through several graph sizes and most steps carry padding rows."""
    handles = [
        engine.submit(Request(ids, SamplingParams(max_tokens=4 + i % 13, ignore_eos=True)))
        for i, ids in enumerate(prompts)
    ]
    engine.run_until_done()
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
    return [h.output.output_ids for h in handles]


@pytest.mark.parametrize("cache", [True, False])
def test_graph_replay_gives_eager_tokens(loaded, cache):
    prompts = _prompts(11, 21)
    eager = _run(_engine(loaded, enable_cuda_graph=False, enable_radix_cache=cache), prompts)
    engine = _engine(loaded, enable_radix_cache=cache)
    graphs = engine.runner.graphs
    assert graphs is not None and graphs.sizes == [1, 2, 4, 8, 16, 24]
    assert _run(engine, prompts) == eager
    assert graphs.replays >= 8  # the decode steps ran as graphs, not eagerly


def test_graph_logits_match_eager_logits(loaded):
    """One decode step of 5 sequences (padded to 8) both ways, on the same KV cache."""
    # No deferred admissions (all 5 prefill now), and tokens read at once (the step is scheduled by hand).
    engine = _engine(loaded, enable_radix_cache=False, overlap_schedule=False)
    for ids in _prompts(5, 5):
        engine.submit(Request(ids, SamplingParams(max_tokens=8, ignore_eos=True)))
    engine.step()  # the prefills; everyone has sampled a first token
    batch = engine.scheduler.schedule()
    assert batch.extend_lens == [1] * 5
    graphs, runner = engine.runner.graphs, engine.runner
    runner.graphs = None
    eager = runner.forward(batch).logits.clone()
    runner.graphs = graphs
    replayed = runner.forward(batch).logits
    assert graphs.replays == 1 and replayed.shape == eager.shape
    assert (replayed - eager).norm() / eager.norm() < 1e-5
    assert torch.equal(replayed.argmax(-1), eager.argmax(-1))


def test_graphs_only_where_the_backend_supports_them(loaded):
    assert _engine(loaded, attention_backend="reference").runner.graphs is None
    assert _engine(loaded, enable_cuda_graph=False).runner.graphs is None
    custom = _engine(loaded, cuda_graph_batch_sizes=(3, 1))
    assert custom.runner.graphs.sizes == [1, 3]
    outs = _run(custom, _prompts(2, 6))  # 6 rows: more than the largest graph, eager until 3 left
    assert custom.runner.graphs.replays > 0 and all(outs)
