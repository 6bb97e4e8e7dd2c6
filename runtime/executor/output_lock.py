"""One run per output: an exclusive fcntl lock on `out.jsonl.lmc-lock`, holding the owner's pid.

A second run on the same output fails at once, naming the pid that holds it. The lock file is
removed on release; a run that locked a file another run removed in the meantime (it checks
the path still names the inode it locked) tries again, so two runs never both hold a lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

SUFFIX = ".lmc-lock"


class OutputLocked(Exception):
    """Another process is writing this output."""


class OutputLock:
    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = output.with_name(output.name + SUFFIX)
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputLocked(f"{self.output} is being written by another lmc run (pid {holder}); "
                                   "wait for it to finish or pick another --output") from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # released and removed by its holder while we waited for it: retry
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)
