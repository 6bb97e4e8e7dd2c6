"""Hoisted prefixes: each prefilled once, and locked in the cache while rows depend on it.

A prefix of every row (scope "rows") stays pinned until the run ends: every row, including those
not started yet, reads it. A prefix of one row's fork branches is released when its last user
row finishes. Locked KV is never evicted, so a prefix is computed exactly once however much the
rows in between make the cache churn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PinEntry:
    rid: str | None = None  # the pin request's id, once submitted
    done: bool = False
    keep: bool = False
    users: set[int] = field(default_factory=set)  # row indices
    waiters: list[Any] = field(default_factory=list)


class PrefixPins:
    """Pin entries by prompt ids; `unpin` is the engine's."""

    def __init__(self, unpin: Callable[[str], None]) -> None:
        self._unpin = unpin
        self.entries: dict[tuple[int, ...], PinEntry] = {}

    def use(self, ids: tuple[int, ...], user: int, keep: bool) -> tuple[PinEntry, bool]:
        """The entry for `ids` with `user` added, and whether it is new (to be submitted)."""
        entry = self.entries.get(ids)
        new = entry is None
        if entry is None:
            entry = self.entries[ids] = PinEntry(keep=keep)
        entry.keep = entry.keep or keep
        entry.users.add(user)
        return entry, new

    def drop(self, ids: tuple[int, ...]) -> None:
        """Forget an entry whose request could not be submitted."""
        self.entries.pop(ids, None)

    def finished(self, ids: tuple[int, ...]) -> list[Any]:
        """Mark the prefix resident; the waiters to resume."""
        entry = self.entries[ids]
        entry.done = True
        waiters, entry.waiters = entry.waiters, []
        self._release_if_unused(ids, entry)
        return waiters

    def release(self, user: int, keys: set[tuple[int, ...]]) -> None:
        """`user` (a row) finished: unlock the prefixes nobody else needs."""
        for ids in keys:
            entry = self.entries.get(ids)
            if entry is not None:
                entry.users.discard(user)
                self._release_if_unused(ids, entry)

    def release_all(self) -> None:
        """The run is over: unlock everything still pinned."""
        for ids, entry in list(self.entries.items()):
            entry.keep = False
            entry.users.clear()
            self._release_if_unused(ids, entry)

    def _release_if_unused(self, ids: tuple[int, ...], entry: PinEntry) -> None:
        if entry.done and not entry.keep and not entry.users:
            del self.entries[ids]
            if entry.rid is not None:
                self._unpin(entry.rid)
