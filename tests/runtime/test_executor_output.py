"""out.jsonl writing and resume: input order whatever the finishing order, and a resumed file
equal to an uninterrupted one."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.runtime.executor.inputs import RowJob, parse_line, read_jsonl
from lmc.runtime.executor.output import OrderedWriter, encode_record, scan_output


def _jobs(n: int) -> list[RowJob]:
    return [RowJob(i, f"r{i}", {"x": i}) for i in range(n)]


def _line(i: int) -> bytes:
    return encode_record({"id": f"r{i}", "outputs": {"v": i}, "meta": {}})


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(range(12))))
def test_rows_are_written_in_input_order_whatever_order_they_finish(tmp_path_factory, order):
    path = tmp_path_factory.mktemp("w") / "out.jsonl"
    writer = OrderedWriter(path)
    for i in order:
        writer.put(i, _line(i))
    writer.close()
    assert path.read_bytes() == b"".join(_line(i) for i in range(12))


def test_a_row_is_on_disk_as_soon_as_every_earlier_row_is(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    writer = OrderedWriter(path)
    writer.put(1, _line(1))
    assert path.read_bytes() == b""
    writer.put(0, _line(0))
    assert path.read_bytes() == _line(0) + _line(1)  # flushed without closing
    writer.close()


def test_resume_after_an_interrupt_rebuilds_the_uninterrupted_file(tmp_path: Path):
    """Interrupted with rows 0-3 and 6, 8 finished (gaps written at the end), plus a torn line."""
    rng = random.Random(0)
    path = tmp_path / "out.jsonl"
    jobs = _jobs(10)
    writer = OrderedWriter(path)
    for i in [3, 0, 6, 1, 8, 2]:
        writer.put(i, _line(i))
    writer.write_rest()
    writer.close()
    with open(path, "ab") as f:
        f.write(_line(9)[:7])  # killed in the middle of a write
    found = scan_output(path, jobs)
    assert found.kept_rows == 4
    assert sorted(found.finished) == [6, 8]
    writer = OrderedWriter(path, found.kept_rows, found.keep_bytes)
    rest = [i for i in range(4, 10) if i not in found.finished]
    for i, line in found.finished.items():
        writer.put(i, line)
    rng.shuffle(rest)
    for i in rest:
        writer.put(i, _line(i))
    writer.close()
    assert path.read_bytes() == b"".join(_line(i) for i in range(10))


def test_resume_ignores_lines_of_other_inputs(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(_line(0) + encode_record({"id": "elsewhere", "outputs": {}, "meta": {}}) + _line(1))
    found = scan_output(path, _jobs(3))
    assert (found.kept_rows, sorted(found.finished)) == (1, [1])
    assert found.keep_bytes == len(_line(0))


def test_error_rows_count_as_finished(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(encode_record({"id": "r0", "error": {"type": "InputError", "message": "m"}}))
    assert scan_output(path, _jobs(2)).kept_rows == 1


def test_broken_lines_become_error_jobs_with_line_numbers(tmp_path: Path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": "a", "q": 1}\n{not json\n\n[1, 2]\n{"q": 2}\n')
    jobs = read_jsonl(path)
    assert [j.id for j in jobs] == ["a", 2, 4, 5]
    assert [j.error.type if j.error else None for j in jobs] == [None, "InputError", "InputError", None]
    assert "line 2" in jobs[1].error.message and "line 4" in jobs[2].error.message
    assert [j.index for j in jobs] == [0, 1, 2, 3]
    assert len(read_jsonl(path, limit=2)) == 2


def test_an_id_field_of_any_json_type_round_trips():
    job = parse_line(0, 1, json.dumps({"id": [1, "x"], "q": "?"}))
    assert job.id == [1, "x"] and job.fields == {"id": [1, "x"], "q": "?"}
