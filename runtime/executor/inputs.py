"""Rows to run: one per line of a JSONL file, each with its id, or the reason it cannot run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmc.runtime.executor.results import RowFailure


@dataclass(frozen=True)
class RowJob:
    """One input row: `index` is its position among the rows, `id` its "id" field or line
    number; `fields` is None when the line is not a JSON object (`error` says why)."""

    index: int
    id: Any
    fields: dict[str, Any] | None
    error: RowFailure | None = None


def read_jsonl(path: Path | str, limit: int | None = None) -> list[RowJob]:
    """Every non-blank line of `path` as a job; a malformed line becomes an error job (the
    other rows still run). `limit` keeps the first `limit` rows."""
    jobs: list[RowJob] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if limit is not None and len(jobs) >= limit:
                break
            if line.strip():
                jobs.append(parse_line(len(jobs), number, line))
    return jobs


def parse_line(index: int, number: int, line: str) -> RowJob:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return RowJob(index, number, None, RowFailure("InputError", f"line {number}: not valid JSON ({exc})"))
    if not isinstance(value, dict):
        message = f"line {number}: a row must be a JSON object, got {type(value).__name__}"
        return RowJob(index, number, None, RowFailure("InputError", message))
    return RowJob(index, value.get("id", number), value)


def jobs_from_rows(rows: list[dict[str, Any]]) -> Iterator[RowJob]:
    """Jobs for rows given in Python (ids are their "id" field or their position)."""
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            yield RowJob(index, row.get("id", index), row)
        else:
            message = f"row {index}: a row must be a dict of inputs, got {type(row).__name__}"
            yield RowJob(index, index, None, RowFailure("InputError", message))
