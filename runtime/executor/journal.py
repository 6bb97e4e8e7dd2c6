"""out.jsonl.lmc-journal: every finished row, on disk the moment it finishes, whatever its order.

One JSON record a line, appended with one write and fsync'd before the row counts as done:
- `{"format": "lmc-journal", "version": 1}` opens the file;
- `{"run": {...}}` each time a run starts or resumes: the plan's sha256 and name, the model, the
  seed and how many input rows the run has (`RunStamp`);
- `{"row": i, "input": sha256, "record": {...}}` a finished row: its index in the inputs, the
  sha256 of its input line and its out.jsonl record.
A kill can tear only the last line; reading stops there and the next run cuts it off.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "lmc-journal"
VERSION = 1
SUFFIX = ".lmc-journal"


class JournalError(Exception):
    """A journal that cannot be read as one (another file under its name, another version)."""


@dataclass(frozen=True)
class RunStamp:
    """What made a run's rows; a resume must match it."""

    plan_sha256: str
    plan_name: str
    model: str
    seed: int
    rows: int


@dataclass(frozen=True)
class JournalRow:
    index: int
    input_sha256: str
    record: dict[str, Any]


@dataclass
class JournalContents:
    """A journal read back: its last run stamp, its rows by index, and the length of the part
    that ends with a complete line (a torn tail past it is ignored)."""

    stamp: RunStamp | None = None
    rows: dict[int, JournalRow] = field(default_factory=dict)
    good_bytes: int = 0


def journal_path(output: Path) -> Path:
    return output.with_name(output.name + SUFFIX)


def read_journal(path: Path) -> JournalContents:
    """The journal at `path` (empty contents when there is none)."""
    contents = JournalContents()
    if not path.exists():
        return contents
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                break  # torn by a kill in the middle of a write
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise JournalError(f"{path} line {number} is not a journal record") from None
            if number == 1:
                _check_header(path, record)
            elif isinstance(record, dict) and "row" in record:
                row = JournalRow(record["row"], record["input"], record["record"])
                contents.rows[row.index] = row
            elif isinstance(record, dict) and "run" in record:
                contents.stamp = RunStamp(**record["run"])
            else:
                raise JournalError(f"{path} line {number} is not a journal record")
            contents.good_bytes += len(line)
    return contents


def _check_header(path: Path, record: Any) -> None:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise JournalError(f"{path} is not an lmc journal")
    if record.get("version") != VERSION:
        version = record.get("version")
        raise JournalError(f"{path} has journal version {version!r} ({type(version).__name__}); "
                           f"this lmc reads version {VERSION!r} (int)")


class Journal:
    """Appends to a journal; `keep_bytes` of an existing one stay (the rest is cut off)."""

    def __init__(self, path: Path, keep_bytes: int = 0) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        os.ftruncate(self._fd, keep_bytes)
        os.lseek(self._fd, keep_bytes, os.SEEK_SET)
        if keep_bytes == 0:
            self._append({"format": FORMAT, "version": VERSION})

    def start(self, stamp: RunStamp) -> None:
        self._append({"run": asdict(stamp)})

    def add(self, index: int, input_sha256: str, record: dict[str, Any]) -> None:
        self._append({"row": index, "input": input_sha256, "record": record})

    def close(self) -> None:
        os.close(self._fd)

    def _append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)
