"""SIGINT, SIGTERM and SIGHUP all stop a run the same way: as an `Interrupted` exception.

`timeout`, Slurm and Kubernetes send SIGTERM, a closed terminal SIGHUP; each should leave the
output as complete as Ctrl-C does. Inside `held()` (writing a row to the journal and the output,
and the final write) a signal is only noted, and raised when the block ends, so no write is cut
in half by our own handler.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; `exit_code` is the shell's 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    holding = 0
    pending: int | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.holding:
        _State.pending = _State.pending or signum
        return
    raise Interrupted(signum)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn the three signals into `Interrupted` while the block runs (main thread only: Python
    delivers signals there; elsewhere the block runs with the handlers as they are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        _State.pending = None


@contextmanager
def held(deliver: bool = True) -> Iterator[None]:
    """Hold signals off while the block runs; one that came meanwhile is raised at its end
    (dropped instead with `deliver=False`: the block is the run's last write anyway)."""
    _State.holding += 1
    try:
        yield
    finally:
        _State.holding -= 1
        if not deliver:
            _State.pending = None
    if not _State.holding and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        raise Interrupted(signum)
