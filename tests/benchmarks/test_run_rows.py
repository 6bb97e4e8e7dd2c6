"""`lmc bench run`'s rows and workloads: past a data file's end its rows repeat under new,
distinct ids; a workload is named by its name or file stem, and slow ones run only when named."""

from __future__ import annotations

import pytest

from lmc.benchmarks.run import (
    EXAMPLES,
    ON_REQUEST,
    accuracy,
    workload_jobs,
    workload_name,
    workloads,
)
from lmc.runtime.executor.inputs import read_jsonl


def test_rows_past_the_file_repeat_under_new_ids() -> None:
    lines = read_jsonl(EXAMPLES / "data" / "tree_of_thought.jsonl")
    jobs = workload_jobs("tree_of_thought", 2 * len(lines) + 3)
    assert [j.index for j in jobs] == list(range(len(jobs)))
    assert len({j.id for j in jobs}) == len(jobs)
    assert [j.fields for j in jobs] == [lines[i % len(lines)].fields for i in range(len(jobs))]
    assert jobs[len(lines)].id == f"{lines[0].id}#1"
    assert [j.id for j in workload_jobs("tree_of_thought", 3)] == [j.id for j in lines[:3]]


def test_a_workload_is_named_by_its_stem_and_slow_ones_are_known_workloads() -> None:
    assert workload_name("bench_tree_of_thought_deep") == "sglang/bench_tree_of_thought_deep" in ON_REQUEST
    assert workload_name("sglang/bench_react") == "sglang/bench_react"
    assert set(ON_REQUEST) <= set(workloads())
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        workload_name("nope")


def test_accuracy_compares_the_answer_output_with_the_data_key() -> None:
    jobs = workload_jobs("few_shot_mmlu", 3)
    keys = [j.fields["answer"] for j in jobs]
    records = [
        {"id": jobs[0].id, "outputs": {"answer": f" {keys[0]}"}},  # a select's choice keeps its space
        {"id": jobs[1].id, "outputs": {"answer": "Z"}},
        {"id": jobs[2].id, "error": {"type": "RowError", "message": "failed"}},
    ]
    assert accuracy(records, jobs) == 1 / 3


def test_accuracy_is_none_without_an_answer_output() -> None:
    """llm_judge's rows have an `answer` field (the answer being judged), its program no answer output."""
    jobs = workload_jobs("llm_judge", 2)
    assert all("answer" in j.fields for j in jobs)
    assert accuracy([{"id": j.id, "outputs": {"verdict": "accept"}} for j in jobs], jobs) is None
