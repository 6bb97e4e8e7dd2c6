"""Rows to run: one per line of a JSONL file, each with its id, or the reason it cannot run.

Every row gets an id: its "id" field, or `"line-N"` (N its 1-based line number in the file) when
it has none. Ids must be unique: a row whose id an earlier row already has becomes an error row
(the first keeps it and runs). A line that is not UTF-8, not JSON or not an object, and a row
holding a string that is not valid text (a lone surrogate such as "\\ud800"), become error rows
too; the other rows still run. Each file row carries the sha256 of its line, so `--resume` can
tell that the rows it keeps came from the same inputs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmc.runtime.executor.results import RowFailure


@dataclass(frozen=True)
class RowJob:
    """One input row: `index` is its position among the rows, `id` its "id" field or generated
    id; `fields` is None when the row cannot run (`error` says why). `digest` is the sha256 of
    the row's line for a row read from a file."""

    index: int
    id: Any
    fields: dict[str, Any] | None
    error: RowFailure | None = None
    digest: str = ""


def read_jsonl(path: Path | str, limit: int | None = None) -> list[RowJob]:
    """Every non-blank line of `path` as a job (see the module doc); `limit` keeps the first
    `limit` rows."""
    jobs: list[RowJob] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if limit is not None and len(jobs) >= limit:
                break
            if raw.strip():
                jobs.append(parse_line(len(jobs), number, raw))
    return unique_ids(jobs)


def line_id(number: int) -> str:
    """The id of a row that has no "id" field (or whose id cannot be written)."""
    return f"line-{number}"


def parse_line(index: int, number: int, line: bytes | str) -> RowJob:
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    digest = hashlib.sha256(raw.rstrip(b"\r\n")).hexdigest()
    fallback = line_id(number)

    def failed(message: str, row_id: Any = fallback) -> RowJob:
        return RowJob(index, row_id, None, RowFailure("InputError", f"line {number}: {message}"), digest)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return failed(f"not valid UTF-8 (byte {exc.start})")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return failed(f"not valid JSON ({exc})")
    if not isinstance(value, dict):
        return failed(f"a row must be a JSON object, got {type(value).__name__}")
    row_id = value.get("id", fallback)
    if _bad_text(row_id) is not None:
        return failed(f"the id is not valid text ({_bad_text(row_id)}); the row is named {fallback!r} here")
    for key, field_value in value.items():
        problem = _bad_text(key) or _bad_text(field_value)
        if problem is not None:
            return failed(f"field {ascii(key)} is not valid text ({problem})", row_id)
    return RowJob(index, row_id, value, digest=digest)


def _bad_text(value: Any) -> str | None:
    """Why `value` holds a string that cannot be encoded as UTF-8, or None when it has none."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"a lone surrogate {ascii(value[exc.start])} at character {exc.start}"
        return None
    if isinstance(value, dict):
        return next((p for item in value.items() for p in map(_bad_text, item) if p), None)
    if isinstance(value, list):
        return next((p for p in map(_bad_text, value) if p), None)
    return None


def id_key(value: Any) -> str:
    """A hashable, type-exact key of an id (1 and "1" are different ids)."""
    return json.dumps(value, sort_keys=True)


def unique_ids(jobs: list[RowJob]) -> list[RowJob]:
    """The jobs with every repeat of an earlier id turned into an error row."""
    first: dict[str, int] = {}
    out = []
    for job in jobs:
        key = id_key(job.id)
        if key in first:
            earlier = jobs[first[key]]
            failure = RowFailure("InputError", f"duplicate id {job.id!r} (row {earlier.index + 1} of the inputs has it)")
            job = replace(job, fields=None, error=failure)
        else:
            first[key] = job.index
        out.append(job)
    return out


def jobs_from_rows(rows: list[dict[str, Any]]) -> Iterator[RowJob]:
    """Jobs for rows given in Python (ids are their "id" field or their position)."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            message = f"row {index}: a row must be a dict of inputs, got {type(row).__name__}"
            yield RowJob(index, index, None, RowFailure("InputError", message))
        elif (problem := _bad_text(row)) is not None:
            yield RowJob(index, index, None, RowFailure("InputError", f"row {index}: a string is not valid text ({problem})"))
        else:
            yield RowJob(index, row.get("id", index), row)
