"""Where a run's rows go, opened before the model loads: locked, checked, resumable.

`RunOutput.open` takes the output's lock, and with `resume` reads its journal and refuses to go
on unless the journal's last run had the same plan, model and seed and every journaled row's
input line is unchanged; out.jsonl must be the journal's rows in order (a torn last line
aside). It never drops a row it does not recognise: it refuses, and `force` starts over. Without
`resume`, an output holding an unfinished run is refused too (`force` overwrites it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.executor.interrupts import held
from lmc.runtime.executor.journal import (
    Journal,
    JournalContents,
    JournalError,
    RunStamp,
    journal_path,
    read_journal,
)
from lmc.runtime.executor.output import (
    OrderedWriter,
    PrefixMismatch,
    encode_record,
    verified_prefix,
)
from lmc.runtime.executor.output_lock import OutputLock
from lmc.runtime.executor.results import RowResult

FORCE_HINT = "--force starts over (and overwrites it)"


class OutputRefused(Exception):
    """The output cannot be written or resumed as asked; the message says why and what to do."""


class RunOutput:
    """An open output: `todo` are the jobs still to run; `add` makes a finished row durable."""

    def __init__(self, output: Path, jobs: list[RowJob], lock: OutputLock, journal: Journal,
                 writer: OrderedWriter, done: dict[int, dict[str, Any]]) -> None:
        self.output = output
        self.jobs = jobs
        self.lock = lock
        self.journal = journal
        self.writer = writer
        self.todo = [j for j in jobs if j.index not in done]

    @classmethod
    def open(cls, output: Path, stamp: RunStamp, jobs: list[RowJob], *, resume: bool = False,
             force: bool = False) -> RunOutput:
        if output.is_dir():
            raise OutputRefused(f"--output {output} is a directory")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            lock = OutputLock(output)
            lock.acquire()
        except OSError as exc:
            raise OutputRefused(f"cannot write --output {output}: {exc.strerror}") from None
        try:
            return cls._open_locked(output, stamp, jobs, lock, resume, force)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(cls, output: Path, stamp: RunStamp, jobs: list[RowJob], lock: OutputLock,
                     resume: bool, force: bool) -> RunOutput:
        path = journal_path(output)
        found = JournalContents()
        kept = (0, 0)
        try:
            if not force:
                found = read_journal(path)
                if resume:
                    kept = _check_resume(output, found, stamp, jobs)
                else:
                    _refuse_unfinished(output, found)
                    found = JournalContents()
            journal = Journal(path, found.good_bytes)
            writer = OrderedWriter(output, *kept)
        except JournalError as exc:
            raise OutputRefused(f"{exc}; {FORCE_HINT}") from None
        except OSError as exc:
            raise OutputRefused(f"cannot write --output {output}: {exc.strerror}") from None
        journal.start(stamp)
        done = {i: row.record for i, row in found.rows.items()}
        for index in sorted(done):
            writer.put(index, encode_record(done[index]))
        return cls(output, jobs, lock, journal, writer, done)

    def add(self, result: RowResult) -> None:
        """Journal the row (fsync'd), then write it to out.jsonl if every earlier row is there."""
        record = result.record()
        with held():
            self.journal.add(result.index, self.jobs[result.index].digest, record)
            self.writer.put(result.index, encode_record(record))

    def close(self) -> None:
        with held(deliver=False):
            self.writer.close()
            self.journal.close()
            self.lock.release()


def _check_resume(output: Path, found: JournalContents, stamp: RunStamp, jobs: list[RowJob]) -> tuple[int, int]:
    if found.stamp is None:
        if output.exists() and output.stat().st_size:
            raise OutputRefused(f"{output} has no lmc journal ({journal_path(output).name}), so nothing says which "
                                f"run wrote it; --resume cannot keep its rows; {FORCE_HINT}")
        return 0, 0
    for what, was, now in (("plan", _plan(found.stamp), _plan(stamp)), ("model", found.stamp.model, stamp.model),
                           ("seed", found.stamp.seed, stamp.seed)):
        if was != now:
            raise OutputRefused(f"{output} was written with {what} {was}, this run has {what} {now}; "
                                f"--resume would mix the two in one file; {FORCE_HINT}")
    for index, row in sorted(found.rows.items()):
        if index >= len(jobs):
            raise OutputRefused(f"{output} holds row {index + 1} (id {row.record.get('id')!r}) but the inputs "
                                f"have {len(jobs)} rows now; {FORCE_HINT}")
        if row.input_sha256 != jobs[index].digest:
            raise OutputRefused(f"row {index + 1} of {output} (id {row.record.get('id')!r}) came from an input "
                                f"line with sha256 {row.input_sha256[:12]}, but that input line now has sha256 "
                                f"{jobs[index].digest[:12]}: the inputs changed; {FORCE_HINT}")
    try:
        return verified_prefix(output, _in_order(found))
    except PrefixMismatch as exc:
        raise OutputRefused(f"{exc}; {FORCE_HINT}") from None


def _in_order(found: JournalContents) -> Iterator[bytes]:
    index = 0
    while index in found.rows:
        yield encode_record(found.rows[index].record)
        index += 1


def _refuse_unfinished(output: Path, found: JournalContents) -> None:
    if found.stamp is not None and len(found.rows) < found.stamp.rows:
        raise OutputRefused(f"{output} holds an unfinished run ({len(found.rows)} of {found.stamp.rows} rows "
                            f"done): --resume finishes it, {FORCE_HINT}")


def _plan(stamp: RunStamp) -> str:
    return f"{stamp.plan_name!r} (sha256 {stamp.plan_sha256[:12]})"
