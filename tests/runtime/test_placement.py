"""Data-parallel placement: every row on exactly one worker, rows that share a document together,
shards balanced by predicted prefill, never a split predicted to prefill less than one worker."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmc
from lmc.runtime.executor.inputs import RowJob, jobs_from_rows
from lmc.runtime.parallel.placement import place, predicted_prefill
from lmc.runtime.tokenizer import Tokenizer, role_texts

DOCS = [" ".join(f"Fact {d}.{k}: item {k} of set {d} is {w}." for k, w in enumerate(["red", "blue", "tall", "old"]))
        for d in range(4)]


@lmc.program
def doc_qa(s, doc: str, question: str):
    s += "Read the document, then answer.\n" + doc + "\nQ: " + question + "\nA:" + lmc.gen("answer", max_tokens=4)


@pytest.fixture(scope="module")
def plan():
    return lmc.compile(doc_qa)


@pytest.fixture(scope="module")
def tokenizer(small_model_dir) -> Tokenizer:
    return Tokenizer.from_dir(small_model_dir)


def _jobs(docs: list[int]) -> list[RowJob]:
    return list(jobs_from_rows([{"id": f"r{i}", "doc": DOCS[d], "question": f"What is thing {i}?"}
                                for i, d in enumerate(docs)]))


def _place(plan, tokenizer, jobs, workers, policy="planned"):
    return place(plan, jobs, workers, tokenizer.encode_run, role_texts(tokenizer)[0], policy)


def test_rows_sharing_a_document_share_a_worker_and_beat_round_robin(plan, tokenizer):
    rng = random.Random(3)
    docs = [rng.randrange(4) for _ in range(24)]
    jobs = _jobs(docs)
    planned = _place(plan, tokenizer, jobs, 2)
    round_robin = _place(plan, tokenizer, jobs, 2, "round-robin")
    workers_of_doc = {d: {w for w, shard in enumerate(planned.shards) for j in shard if docs[j.index] == d}
                      for d in set(docs)}
    assert all(len(w) == 1 for w in workers_of_doc.values()), workers_of_doc
    one_worker = predicted_prefill(plan, jobs, tokenizer.encode_run, role_texts(tokenizer)[0])
    assert one_worker <= planned.total_predicted_prefill < round_robin.total_predicted_prefill
    assert [len(s) for s in round_robin.shards] == [12, 12]


def test_equal_groups_are_split_evenly(plan, tokenizer):
    planned = _place(plan, tokenizer, _jobs([0, 1, 2, 3] * 4), 2)
    low, high = sorted(planned.predicted_prefill)
    assert [len(s) for s in planned.shards] == [8, 8] and high - low <= 0.1 * high


def test_unreadable_rows_are_placed_too(plan, tokenizer):
    jobs = _jobs([0, 1, 2])
    jobs.insert(1, RowJob(3, 99, None))
    planned = _place(plan, tokenizer, jobs, 2)
    assert sorted(j.index for s in planned.shards for j in s) == [0, 1, 2, 3]


def test_bad_arguments_are_refused(plan, tokenizer):
    with pytest.raises(ValueError, match="at least one worker"):
        _place(plan, tokenizer, _jobs([0]), 0)
    with pytest.raises(ValueError, match="unknown placement policy"):
        _place(plan, tokenizer, _jobs([0]), 2, "random")


@settings(max_examples=25, deadline=None)
@given(docs=st.lists(st.integers(0, 3), min_size=1, max_size=14), workers=st.integers(1, 4),
       policy=st.sampled_from(["planned", "round-robin"]))
def test_every_row_runs_once_and_no_split_beats_one_worker(plan, tokenizer, docs, workers, policy):
    jobs = _jobs(docs)
    placement = _place(plan, tokenizer, jobs, workers, policy)
    assert len(placement.shards) == workers
    assert sorted(j.index for s in placement.shards for j in s) == list(range(len(docs)))
    assert all(s == sorted(s, key=lambda j: j.index) for s in placement.shards)
    if len(docs) >= workers:
        assert all(placement.shards)
    one_worker = predicted_prefill(plan, jobs, tokenizer.encode_run, role_texts(tokenizer)[0])
    assert placement.total_predicted_prefill >= one_worker  # splitting rows can only lose sharing
