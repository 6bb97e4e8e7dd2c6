"""Errors that teach: where the problem is, what the line says, and what to write instead."""

from __future__ import annotations

from dataclasses import dataclass


class LanguageError(ValueError):
    """A primitive was called with arguments the language does not accept (e.g. two constraints)."""


@dataclass(frozen=True)
class Location:
    """A span in a source file; columns are 0-based like `ast`, printed 1-based like compilers."""

    path: str
    line: int
    col: int
    end_col: int | None = None
    text: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col + 1}"


class CompileError(Exception):
    """The program uses something the compiler cannot analyse; never a silent mis-compile."""

    def __init__(self, message: str, location: Location | None = None, hint: str = "") -> None:
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        if self.location is None:
            head = f"error: {self.message}"
            return head + (f"\nhelp: {self.hint}" if self.hint else "")
        loc = self.location
        lines = [f"{loc}: error: {self.message}"]
        if loc.text:
            stripped = loc.text.rstrip("\n")
            width = max(1, (loc.end_col or loc.col + 1) - loc.col)
            width = min(width, max(1, len(stripped) - loc.col))
            lines.append(f"    {stripped}")
            lines.append("    " + " " * loc.col + "^" * width)
        if self.hint:
            lines.append(f"help: {self.hint}")
        return "\n".join(lines)


class RowError(Exception):
    """A row cannot be instantiated or run; names the row and the IR node so it can be found."""

    def __init__(self, message: str, row_id: object = None, node: str | None = None) -> None:
        self.message = message
        self.row_id = row_id
        self.node = node
        where = []
        if row_id is not None:
            where.append(f"row {row_id!r}")
        if node is not None:
            where.append(f"node {node}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class PlanError(Exception):
    """A plan file cannot be used: wrong version, invalid against the schema, or stale source."""
