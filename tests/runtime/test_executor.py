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


def test_the_executor_owns_the_row_order(engine):
    """With the plan's `order` pass on, rows start in the prefix-tree order of the rows given,
    computed with the engine's tokenizer (row i's position is its priority); with it off, in
    input order."""
    from lmc.plan.instantiate import Instantiator
    from lmc.plan.order import row_order
    from lmc.runtime.executor.execute import in_plan_order

    program = _program("few_shot_mmlu")
    jobs = list(islice(read_jsonl(EXAMPLES_DIR / "data" / "few_shot_mmlu.jsonl"), 12))
    plan = lmc.compile(program)
    expected = row_order(plan.graph, [j.fields for j in jobs], engine.tokenizer.encode_run)
    assert expected != list(range(12))  # the data's subjects are interleaved
    ordered, started = in_plan_order(plan, jobs, engine.tokenizer, Instantiator(plan))
    assert [j.index for j in ordered] == expected
    assert sorted(started) == list(range(12))
    unordered = lmc.compile(program, disabled_passes=("order",))
    assert in_plan_order(unordered, jobs, engine.tokenizer, Instantiator(unordered)) == (jobs, {})


def test_each_row_is_interpreted_once(engine, monkeypatch):
    """The programs started to compute the row order are the ones that run; a row past
    KEEP_STARTED is started again when its turn comes, with the same results."""
    import importlib

    from lmc.plan.instantiate import Instantiator

    execute_module = importlib.import_module("lmc.runtime.executor.execute")

    calls = []
    row = Instantiator.row
    monkeypatch.setattr(Instantiator, "row", lambda self, *a: calls.append(a) or row(self, *a))
    plan = lmc.compile(_program("few_shot_mmlu"))
    jobs = list(islice(read_jsonl(EXAMPLES_DIR / "data" / "few_shot_mmlu.jsonl"), 6))
    first: list = []
    execute(engine, plan, jobs, first.append)
    assert len(calls) == 6
    monkeypatch.setattr(execute_module, "KEEP_STARTED", 2)
    again: list = []
    execute(engine, plan, jobs, again.append)
    assert len(calls) == 6 + 6 + 4
    assert sorted(map(repr, (r.record() for r in again))) == sorted(map(repr, (r.record() for r in first)))
