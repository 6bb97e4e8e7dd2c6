"""The engine-alone replay: an executor run's request stream, sent again with no executor."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lmc.benchmarks.replay import Recorder, replay
from lmc.benchmarks.run import _plans, workload_jobs
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RunOptions, execute
from lmc.runtime.model_loader import LoadedModel, load_model


@pytest.fixture(scope="module")
def loaded(small_model_dir) -> LoadedModel:
    return load_model(str(small_model_dir))


def _recorded(loaded: LoadedModel, workload: str, rows: int) -> Recorder:
    optimized, _ = _plans(workload)
    recorder = Recorder(Engine(EngineConfig(), loaded=loaded))
    results = []
    execute(recorder, optimized, workload_jobs(workload, rows), results.append, RunOptions())
    assert all(r.ok for r in results)
    return recorder


@pytest.mark.parametrize(("workload", "rows"), [("llm_judge", 2), ("few_shot_mmlu", 4)])
def test_replay_forms_the_same_batches_and_outputs(loaded: LoadedModel, workload: str, rows: int) -> None:
    recorder = _recorded(loaded, workload, rows)
    assert any(e.unpin for e in recorder.events), "pins of hoisted prefixes are part of the stream"
    fresh = Engine(EngineConfig(), loaded=loaded)
    assert replay(fresh, recorder).same
    a, b = recorder.engine.stats(), fresh.stats()
    assert (a.steps, a.prefill_tokens, a.decode_tokens, a.cached_tokens, a.finished) == (
        b.steps, b.prefill_tokens, b.decode_tokens, b.cached_tokens, b.finished)
    assert fresh.cache.protected_size == recorder.engine.cache.protected_size == 0  # every pin released


def test_replay_notices_a_different_stream(loaded: LoadedModel) -> None:
    """Without the pinned prefix's prefill, the rows' first requests find nothing cached."""
    recorder = _recorded(loaded, "few_shot_mmlu", 4)
    pinned = {e.request.rid for e in recorder.events if e.request is not None and e.request.pin}
    assert pinned
    kept = [e for e in recorder.events if e.unpin not in pinned and (e.request is None or e.request.rid not in pinned)]
    recorder.handles = [h for h in recorder.handles if h.rid not in pinned]
    assert replay(Engine(EngineConfig(), loaded=loaded), replace(recorder, events=kept)).same is False
