"""Every example end to end on a small model: rows back in input order with their ids, and the
optimized plan giving exactly the outputs of the plan with every pass off (greedy decoding)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

import lmc
from lmc.compiler.loader import load_programs
from lmc.plan.options import PASS_NAMES
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import read_jsonl

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if (EXAMPLES_DIR / "data" / f"{p.stem}.jsonl").exists())
ROWS = 6


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir)))


def _program(name: str) -> lmc.plan.program.Program:
    programs = load_programs(EXAMPLES_DIR / f"{name}.py")
    return next(iter(programs.values()))


def _run(engine: Engine, plan, jobs, **options) -> list[RowResult]:
    results: list[RowResult] = []
    execute(engine, plan, jobs, results.append, RunOptions(**options))
    return sorted(results, key=lambda r: r.index)


def test_examples_are_found():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_equals_its_unoptimized_plan(small_model_dir, engine, name):
    program = _program(name)
    jobs = read_jsonl(EXAMPLES_DIR / "data" / f"{name}.jsonl", limit=ROWS)
    optimized = _run(engine, lmc.compile(program), jobs)
    assert [r.id for r in optimized] == [j.id for j in jobs]
    assert [r.error for r in optimized] == [None] * len(jobs)
    assert all(r.outputs for r in optimized)

    bare_engine = Engine(EngineConfig(model=str(small_model_dir), enable_radix_cache=False))
    bare = _run(bare_engine, lmc.compile(program, disabled_passes=PASS_NAMES), jobs, max_active_rows=1)
    assert [r.record() for r in bare] == [r.record() for r in optimized]


def test_rows_stream_out_as_they_finish_in_any_order_but_each_once(engine):
    program = _program("few_shot_mmlu")
    jobs = list(islice(read_jsonl(EXAMPLES_DIR / "data" / "few_shot_mmlu.jsonl"), 12))
    seen: list[int] = []
    execute(engine, lmc.compile(program), jobs, lambda r: seen.append(r.index), RunOptions(max_active_rows=5))
    assert sorted(seen) == list(range(12))
