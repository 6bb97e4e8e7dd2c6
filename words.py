"""English for counts, shared by every report lmc prints (`1 fork`, `2 forks`, `3 prefixes`)."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count noun`, with the plural (noun + s unless `many` says otherwise) when count != 1."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
