"""out.jsonl: one line per row in input order, written as rows finish, safe to resume.

Rows finish out of order (many run at once), so a finished row waits in memory until every row
before it is written; each batch of lines is flushed and fsync'd, so a crash loses no written
row. On Ctrl-C the rows finished past the first unfinished one are written too (the file then
has gaps, in input order). `--resume` reads the file back: the longest run of leading lines whose
ids match the inputs in order stays as it is, later finished rows are kept in memory and written
again in their place, and only the rows missing from the file run again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lmc.runtime.executor.inputs import RowJob


def encode_record(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _id_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class Resume:
    """What an existing output file already holds for these jobs."""

    keep_bytes: int = 0  # the file's leading bytes that stay as they are
    kept_rows: int = 0  # rows those bytes hold (the first `kept_rows` jobs)
    finished: dict[int, bytes] = field(default_factory=dict)  # job index -> its line, past the kept rows


def scan_output(path: Path, jobs: list[RowJob]) -> Resume:
    """Match the lines of an earlier run's output with `jobs` by id (see the module doc)."""
    if not path.exists():
        return Resume()
    by_id: dict[str, bytes] = {}
    resume = Resume()
    offset = 0
    in_prefix = True
    with open(path, "rb") as f:
        for line in f:
            record = _complete_record(line)
            if record is None:
                break  # a torn last line (or garbage): everything from here is rewritten
            key = _id_key(record["id"])
            by_id.setdefault(key, line)
            offset += len(line)
            if in_prefix and resume.kept_rows < len(jobs) and _id_key(jobs[resume.kept_rows].id) == key:
                resume.kept_rows += 1
                resume.keep_bytes = offset
            else:
                in_prefix = False
    for job in jobs[resume.kept_rows:]:
        line = by_id.get(_id_key(job.id))
        if line is not None:
            resume.finished[job.index] = line
    return resume


def _complete_record(line: bytes) -> dict[str, Any] | None:
    if not line.endswith(b"\n"):
        return None
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or "id" not in record or not ("outputs" in record or "error" in record):
        return None
    return record


class OrderedWriter:
    """Writes lines for job indices `start`.. in index order, whatever order they arrive in."""

    def __init__(self, path: Path, start: int = 0, keep_bytes: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(path, "r+b" if keep_bytes and path.exists() else "wb")  # noqa: SIM115
        self._file.truncate(keep_bytes)
        self._file.seek(keep_bytes)
        self.next = start
        self.pending: dict[int, bytes] = {}

    def put(self, index: int, line: bytes) -> None:
        self.pending[index] = line
        wrote = False
        while self.next in self.pending:
            self._file.write(self.pending.pop(self.next))
            self.next += 1
            wrote = True
        if wrote:
            self._sync()

    def write_rest(self) -> None:
        """Write the finished rows still waiting for an earlier one (on interrupt)."""
        for index in sorted(self.pending):
            self._file.write(self.pending.pop(index))
        self._sync()

    def close(self) -> None:
        self._file.close()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
