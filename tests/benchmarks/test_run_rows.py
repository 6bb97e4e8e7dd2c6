"""`lmc bench run` past a data file's end: its rows repeat under new, distinct ids."""

from __future__ import annotations

from lmc.benchmarks.run import EXAMPLES, workload_jobs
from lmc.runtime.executor.inputs import read_jsonl


def test_rows_past_the_file_repeat_under_new_ids() -> None:
    lines = read_jsonl(EXAMPLES / "data" / "tree_of_thought.jsonl")
    jobs = workload_jobs("tree_of_thought", 2 * len(lines) + 3)
    assert [j.index for j in jobs] == list(range(len(jobs)))
    assert len({j.id for j in jobs}) == len(jobs)
    assert [j.fields for j in jobs] == [lines[i % len(lines)].fields for i in range(len(jobs))]
    assert jobs[len(lines)].id == f"{lines[0].id}#1"
    assert [j.id for j in workload_jobs("tree_of_thought", 3)] == [j.id for j in lines[:3]]
