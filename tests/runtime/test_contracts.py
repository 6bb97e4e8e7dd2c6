"""The executor's view of an engine is a complete Protocol: lmc's Engine and the transformers
baseline of `lmc bench run` both have every member it reads."""

from __future__ import annotations

from lmc.benchmarks.naive_hf import NaiveHFEngine
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine, EngineStats
from lmc.runtime.executor.engine_like import EngineLike
from lmc.runtime.model_loader import load_model


def test_engines_are_engine_like(small_model_dir):
    loaded = load_model(str(small_model_dir))
    on, off = (Engine(EngineConfig(enable_radix_cache=c), loaded=loaded) for c in (True, False))
    baseline = NaiveHFEngine(small_model_dir, loaded.tokenizer, on.eos_ids)
    for engine in (on, off, baseline):
        assert isinstance(engine, EngineLike)
        assert isinstance(engine.stats(), EngineStats)
    assert (on.reuses_prefixes, off.reuses_prefixes, baseline.reuses_prefixes) == (True, False, False)
