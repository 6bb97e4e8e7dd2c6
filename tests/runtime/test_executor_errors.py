"""A bad row never costs the others: each failure becomes that row's error (or a flag)."""

from __future__ import annotations

import pytest

import lmc
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import RowJob, parse_line


@lmc.program
def answer(s, question: str, repeat: int = 1):
    for _ in range(repeat):
        s += question + "\n"
    s += "A:" + lmc.gen("a", max_tokens=3, ignore_eos=True)


@lmc.program
def number(s, question: str):
    s += question + lmc.gen("raw", max_tokens=4, ignore_eos=True)
    s += " doubled is " + str(int(s["raw"]) * 2)


@lmc.program
def digits(s, question: str):
    s += question + lmc.gen("n", regex=r"[0-9]{6}", max_tokens=2)


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir), max_model_len=256))


def _run(engine: Engine, program, jobs: list[RowJob]) -> list[RowResult]:
    results: list[RowResult] = []
    execute(engine, lmc.compile(program), jobs, results.append, RunOptions())
    return sorted(results, key=lambda r: r.index)


def test_bad_rows_become_errors_and_good_rows_finish(engine):
    jobs = [
        RowJob(0, "ok", {"question": "Why?"}),
        parse_line(1, 2, "{broken"),
        RowJob(2, "missing", {"id": "missing"}),
        RowJob(3, "mistyped", {"question": ["not", "a", "str"]}),
        RowJob(4, "too long", {"question": "word " * 100, "repeat": 3}),
        RowJob(5, "ok too", {"question": "How?"}),
    ]
    results = _run(engine, answer, jobs)
    assert [r.id for r in results] == ["ok", "line-2", "missing", "mistyped", "too long", "ok too"]
    errors = [r.error.type if r.error else None for r in results]
    assert errors == [None, "InputError", "RowError", "RowError", "RequestRejected", None]
    assert "'question'" in results[2].error.message and "'question'" in results[3].error.message
    message = results[4].error.message
    assert "context length" in message and message.startswith("row 'too long', node n")
    assert "request" not in message  # the engine's request id is internal to the driver
    assert results[0].outputs["a"] and results[5].outputs["a"]


def test_an_exception_inside_a_row_names_the_row_and_node(engine):
    results = _run(engine, number, [RowJob(0, "r0", {"question": "Pick a number:"})])
    (result,) = results
    assert result.error is not None and result.error.type == "RowError"
    assert "'r0'" in result.error.message and "node n" in result.error.message


def test_a_gen_cut_by_max_tokens_is_flagged_not_fatal(engine):
    results = _run(engine, answer, [RowJob(0, 0, {"question": "Why?"})])
    assert results[0].meta["flags"] == [{"type": "max_tokens", "name": "a", "node": results[0].meta["flags"][0]["node"],
                                         "max_tokens": 3}]


def test_a_constraint_left_unsatisfied_by_max_tokens_is_flagged(engine):
    (result,) = _run(engine, digits, [RowJob(0, 0, {"question": "Six digits:"})])
    assert result.ok
    assert [f["type"] for f in result.meta["flags"]] == ["constraint_unsatisfied"]
    assert result.outputs["n"].isdigit() and len(result.outputs["n"]) < 6
