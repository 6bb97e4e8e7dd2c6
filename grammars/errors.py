"""Errors of the constraint compilers: each one says where the problem is and what to write."""

from __future__ import annotations


class ConstraintError(ValueError):
    """Base of every error a constraint compiler raises for bad user input."""


class RegexError(ConstraintError):
    """A regex the compiler cannot accept, with the position shown under the pattern.

    The message quotes the pattern and puts a caret under the offending character, so a user
    who wrote the pattern inline in a program sees exactly which part to change.
    """

    def __init__(self, pattern: str, pos: int, message: str, hint: str = "") -> None:
        self.pattern = pattern
        self.pos = pos
        self.reason = message
        shown = [_visible(ch) for ch in pattern]
        caret = " " * sum(len(s) for s in shown[:pos]) + "^"
        text = f"{message} at position {pos}\n  {''.join(shown)}\n  {caret}"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


def _visible(ch: str) -> str:
    """How one pattern character is shown: itself, or its escape if it would not print."""
    return ch if ch.isprintable() else repr(ch)[1:-1]


class SchemaError(ConstraintError):
    """A JSON schema (or part of one, named by its JSON pointer) that cannot become a regex."""

    def __init__(self, pointer: str, message: str) -> None:
        self.pointer = pointer or "#"
        super().__init__(f"JSON schema at {self.pointer}: {message}")


class GrammarError(ConstraintError):
    """A lark grammar that the CFG constraint cannot drive (e.g. a terminal it cannot compile)."""
