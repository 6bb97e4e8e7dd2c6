"""Durable output without a model: the ordered writer, the journal, the lock, resume checks and
input validation (each against Python's json and the bytes on disk)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.runtime.executor.inputs import RowJob, parse_line, read_jsonl
from lmc.runtime.executor.journal import Journal, JournalError, RunStamp, journal_path, read_journal
from lmc.runtime.executor.output import OrderedWriter, encode_record
from lmc.runtime.executor.output_lock import OutputLock, OutputLocked
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.run_output import OutputRefused, RunOutput

STAMP = RunStamp("a" * 64, "quiz", "tiny", 0, 6)


def _line(i: int) -> bytes:
    return encode_record({"id": f"r{i}", "outputs": {"v": i}, "meta": {}})


def _inputs(tmp_path: Path, n: int = 6, change: int | None = None) -> list[RowJob]:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"id": f"r{i}", "q": "changed" if i == change else i}) + "\n"
                            for i in range(n)))
    return read_jsonl(path)


def _finish(out: RunOutput, indices: list[int]) -> None:
    for i in indices:
        out.add(RowResult(i, f"r{i}", {"v": i}))


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(10))))
def test_the_in_order_file_is_always_a_prefix_of_the_final_file(tmp_path_factory, order):
    path = tmp_path_factory.mktemp("w") / "out.jsonl"
    final = b"".join(_line(i) for i in range(10))
    writer = OrderedWriter(path)
    done: set[int] = set()
    for i in order:
        writer.put(i, _line(i))
        done.add(i)
        on_disk = path.read_bytes()  # without closing: what a killed process leaves
        assert final.startswith(on_disk)
        contiguous = next(k for k in range(11) if k not in done)
        assert on_disk == final[: len(b"".join(_line(k) for k in range(contiguous)))]
    writer.close()
    assert path.read_bytes() == final


def test_the_journal_keeps_every_row_and_ignores_a_torn_tail(tmp_path: Path):
    path = tmp_path / "out.jsonl.lmc-journal"
    journal = Journal(path)
    journal.start(STAMP)
    journal.add(3, "h3", {"id": "r3", "outputs": {"v": 3}, "meta": {}})
    journal.add(0, "h0", {"id": "r0", "outputs": {"v": "é\n"}, "meta": {}})
    journal.close()
    good = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b'{"row": 1, "input": "h1", "rec')  # killed in the middle of a write
    found = read_journal(path)
    assert found.stamp == STAMP and sorted(found.rows) == [0, 3] and found.good_bytes == good
    assert found.rows[0].record["outputs"]["v"] == "é\n" and found.rows[3].input_sha256 == "h3"
    Journal(path, found.good_bytes).close()  # the next run cuts the torn tail off
    assert path.stat().st_size == good


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path):
    path = tmp_path / "j"
    path.write_text('{"id": 1}\n')
    with pytest.raises(JournalError, match="not an lmc journal"):
        read_journal(path)
    path.write_text('{"format": "lmc-journal", "version": "1"}\n')
    with pytest.raises(JournalError, match=r"version '1' \(str\); this lmc reads version 1 \(int\)"):
        read_journal(path)


def test_a_second_lock_on_one_output_names_the_holder(tmp_path: Path):
    out = tmp_path / "out.jsonl"
    with OutputLock(out), pytest.raises(OutputLocked, match=f"pid {os.getpid()}"):
        OutputLock(out).acquire()
    assert not (tmp_path / "out.jsonl.lmc-lock").exists()
    with OutputLock(out):  # released: free again
        pass


def test_resume_rebuilds_the_file_from_the_journal_after_a_kill(tmp_path: Path):
    jobs = _inputs(tmp_path)
    out_path = tmp_path / "out.jsonl"
    out = RunOutput.open(out_path, STAMP, jobs)
    _finish(out, [3, 0, 5, 1])
    assert out_path.read_bytes() == _line(0) + _line(1)
    os.truncate(out_path, len(_line(0)) + 5)  # a kill in the middle of writing row 1 (journaled before)
    out.lock.release()  # as a killed process's lock goes; nothing else is closed
    out = RunOutput.open(out_path, STAMP, jobs, resume=True)
    assert [j.index for j in out.todo] == [2, 4]
    assert out_path.read_bytes() == _line(0) + _line(1)
    _finish(out, [4, 2])
    out.close()
    assert out_path.read_bytes() == b"".join(_line(i) for i in range(6))
    rows = [json.loads(line) for line in journal_path(out_path).read_text().splitlines() if '"row"' in line]
    assert sorted(r["row"] for r in rows) == list(range(6))  # each row computed once


@pytest.mark.parametrize(("case", "message"), [
    ("plan", r"plan 'quiz' \(sha256 aaaaaaaaaaaa\), this run has plan 'other' \(sha256 bbbbbbbbbbbb\)"),
    ("model", "model tiny, this run has model other"),
    ("inputs", r"row 3 .*id 'r2'.* sha256 [0-9a-f]{12}, but that input line now has sha256 [0-9a-f]{12}"),
    ("fewer rows", "holds row 6 .* the inputs have 4 rows now"),
    ("foreign line", "line 2 of .* is not the row its journal recorded there"),
])
def test_resume_refuses_what_it_does_not_recognise(tmp_path: Path, case: str, message: str):
    out_path = tmp_path / "out.jsonl"
    out = RunOutput.open(out_path, STAMP, _inputs(tmp_path))
    _finish(out, [0, 1, 5])
    out.close()
    stamp, jobs = STAMP, _inputs(tmp_path)
    if case == "plan":
        stamp = RunStamp("b" * 64, "other", "tiny", 0, 6)
    elif case == "model":
        stamp = RunStamp(STAMP.plan_sha256, "quiz", "other", 0, 6)
    elif case == "inputs":
        jobs = _inputs(tmp_path, change=2)
        _finish(out := RunOutput.open(out_path, STAMP, _inputs(tmp_path), resume=True), [2])
        out.close()
    elif case == "fewer rows":
        jobs = _inputs(tmp_path, n=4)
    else:
        lines = out_path.read_bytes().splitlines(keepends=True)
        out_path.write_bytes(lines[0] + encode_record({"id": "elsewhere", "outputs": {}, "meta": {}}))
    before = out_path.read_bytes()
    with pytest.raises(OutputRefused, match=message):
        RunOutput.open(out_path, stamp, jobs, resume=True)
    assert out_path.read_bytes() == before  # refused: nothing dropped
    out = RunOutput.open(out_path, stamp, jobs, resume=True, force=True)  # --force starts over
    assert len(out.todo) == len(jobs) and out_path.read_bytes() == b""
    out.close()


def test_a_file_without_a_journal_is_not_resumed_and_an_unfinished_run_not_overwritten(tmp_path: Path):
    out_path = tmp_path / "out.jsonl"
    out_path.write_bytes(_line(0))
    with pytest.raises(OutputRefused, match="has no lmc journal"):
        RunOutput.open(out_path, STAMP, _inputs(tmp_path), resume=True)
    out = RunOutput.open(out_path, STAMP, _inputs(tmp_path))  # a plain run overwrites it
    _finish(out, [0, 2])
    out.close()
    with pytest.raises(OutputRefused, match=r"holds an unfinished run \(2 of 6 rows done\): --resume finishes it"):
        RunOutput.open(out_path, STAMP, _inputs(tmp_path))


def test_an_unwritable_or_directory_output_is_refused(tmp_path: Path):
    with pytest.raises(OutputRefused, match="is a directory"):
        RunOutput.open(tmp_path, STAMP, [])
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputRefused, match="cannot write --output .*file/out.jsonl: "):
        RunOutput.open(tmp_path / "file" / "out.jsonl", STAMP, [])
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that can write a read-only folder (root)")
        with pytest.raises(OutputRefused, match="cannot write --output"):
            RunOutput.open(locked / "out.jsonl", STAMP, [])
    finally:
        locked.chmod(0o700)


def test_missing_ids_are_line_numbers_and_duplicates_are_error_rows(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": "a", "q": 1}\n{not json\n\n[1, 2]\n{"q": 2}\n{"id": "a", "q": 3}\n{"id": "line-5"}\n')
    jobs = read_jsonl(path)
    assert [j.id for j in jobs] == ["a", "line-2", "line-4", "line-5", "a", "line-5"]
    errors = [j.error.message if j.error else None for j in jobs]
    assert errors[0] is None and errors[3] is None
    assert "line 2: not valid JSON" in errors[1] and "line 4: a row must be a JSON object" in errors[2]
    assert "duplicate id 'a' (row 1 of the inputs has it)" in errors[4]
    assert "duplicate id 'line-5' (row 4" in errors[5]
    assert len(read_jsonl(path, limit=2)) == 2


def test_strings_that_are_not_text_make_error_rows_not_crashes(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"id": "ok", "q": "fine"}\n{"id": "s", "q": "\\ud800"}\n{"id": "b", "q": "\xff"}\n'
                     b'{"id": "\\udfff"}\n{"id": "n", "q": ["x", {"k": "\\ud83d"}]}\n')
    jobs = read_jsonl(path)
    assert [j.id for j in jobs] == ["ok", "s", "line-3", "line-4", "n"]
    assert jobs[0].error is None
    messages = [j.error.message for j in jobs[1:]]
    assert messages[0] == "line 2: field 'q' is not valid text (a lone surrogate '\\ud800' at character 0)"
    assert "line 3: not valid UTF-8" in messages[1]
    assert "the id is not valid text" in messages[2] and "'line-4'" in messages[2]
    assert "'\\ud83d'" in messages[3]
    for job in jobs:  # every error row can be written
        json.loads(encode_record(RowResult(job.index, job.id, error=job.error).record()))


def test_an_id_field_of_any_json_type_round_trips():
    job = parse_line(0, 1, json.dumps({"id": [1, "x"], "q": "?"}))
    assert job.id == [1, "x"] and job.fields == {"id": [1, "x"], "q": "?"}
