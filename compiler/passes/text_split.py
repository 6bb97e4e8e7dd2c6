"""Splitting appended text into a leading part that satisfies a test and the rest.

An appended text is a `+` chain and/or an f-string; both concatenate strings, so cutting the
sequence of atoms anywhere gives two texts whose concatenation is the original. f-string parts
are regrouped into f-strings and `+` operands into `+` chains, so every atom is evaluated exactly
as before (no str() is added around anything). A text that reads a state's text (`s.text()`) is
never cut: the head, appended first, would become part of what it reads.
"""

from __future__ import annotations

from collections.abc import Callable

from lmc.plan.expr import BinOp, Const, Expr, FString, text_reads

Atom = tuple[Expr, bool]  # (expression, True if it is an f-string part)


def atoms(expr: Expr) -> list[Atom]:
    if isinstance(expr, BinOp) and expr.op == "+":
        return atoms(expr.left) + atoms(expr.right)
    if isinstance(expr, FString):
        return [(p, True) for p in expr.parts]
    return [(expr, False)]


def join_atoms(items: list[Atom]) -> Expr:
    """Rebuild a text from atoms (f-string parts regrouped, operands chained with +)."""
    groups: list[Expr] = []
    parts: list[Expr] = []
    for expr, is_part in items:
        if is_part:
            parts.append(expr)
            continue
        if parts:
            groups.append(_fstring(parts))
            parts = []
        groups.append(expr)
    if parts:
        groups.append(_fstring(parts))
    result = groups[0]
    for g in groups[1:]:
        result = BinOp("+", result, g)
    return result


def _fstring(parts: list[Expr]) -> Expr:
    if all(isinstance(p, Const) and isinstance(p.value, str) for p in parts):
        return Const("".join(p.value for p in parts))  # type: ignore[union-attr]
    return FString(tuple(parts))


def split_head(expr: Expr, ok: Callable[[Expr], bool]) -> tuple[Expr | None, Expr | None]:
    """(head, rest): the longest leading run of atoms passing `ok`, and what follows."""
    if text_reads(expr):
        return None, expr
    items = atoms(expr)
    k = 0
    while k < len(items) and ok(items[k][0]):
        k += 1
    if k == 0:
        return None, expr
    if k == len(items):
        return expr, None
    return join_atoms(items[:k]), join_atoms(items[k:])
