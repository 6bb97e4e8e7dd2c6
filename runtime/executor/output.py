"""out.jsonl: one line per row in input order, always the contiguous finished prefix of the rows.

Rows finish out of order (many run at once); the journal (journal.py) has each one the moment
it finishes, and out.jsonl gets a row as soon as every row before it is there, so at any moment
the file is a prefix of the finished file. `verified_prefix` reads an earlier run's file back
against its journal for `--resume`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


def encode_record(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


class PrefixMismatch(Exception):
    """out.jsonl holds a line its journal does not."""


def verified_prefix(path: Path, expected: Iterator[bytes]) -> tuple[int, int]:
    """(rows, bytes) of the leading lines of `path` equal to `expected`, the journal's lines in
    order; a torn last line (a prefix of the one expected) is left out. Any other line raises
    PrefixMismatch: it is not a row this output's journal knows."""
    rows = size = 0
    if not path.exists():
        return rows, size
    with open(path, "rb") as f:
        for line in f:
            want = next(expected, None)
            if line == want:
                rows, size = rows + 1, size + len(line)
            elif not line.endswith(b"\n") and want is not None and want.startswith(line):
                break
            else:
                raise PrefixMismatch(f"line {rows + 1} of {path} is not the row its journal recorded there")
    return rows, size


class OrderedWriter:
    """Writes lines for job indices `start`.. in index order, whatever order they arrive in.

    Each line goes to the kernel at once (a killed process loses none); the file is fsync'd on
    close only, since the journal already holds every row durably."""

    def __init__(self, path: Path, start: int = 0, keep_bytes: int = 0) -> None:
        self._file: BinaryIO = open(path, "r+b" if path.exists() else "wb")  # noqa: SIM115
        self._file.truncate(keep_bytes)
        self._file.seek(keep_bytes)
        self.next = start
        self.pending: dict[int, bytes] = {}

    def put(self, index: int, line: bytes) -> None:
        self.pending[index] = line
        if index != self.next:
            return
        while self.next in self.pending:
            self._file.write(self.pending.pop(self.next))
            self.next += 1
        self._file.flush()

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
