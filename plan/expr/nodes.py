"""The plan's expression language: a small, serialisable subset of Python expressions.

Text nodes, gen arguments, loop iterables and conditions are stored as these trees, never as
source text, so a plan can be evaluated per row by `evaluate` without `eval`. `Ref` appears only
at instantiation (a generated value or a host call's result not known yet), never in a plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

Pattern = str | tuple["Pattern", ...]  # an assignment target: a name or a tuple of targets


@dataclass(frozen=True)
class Const:
    value: Any  # JSON-like: str, int, float, bool, None, lists and dicts of them


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Var:
    """`state[name]` (or `state.json(name)`): the value a gen/select stored on a state."""

    state: Expr
    name: Expr
    as_json: bool = False


@dataclass(frozen=True)
class Ref:
    """The value of the row program's op `op` (a gen, a select or a host call), not known yet
    (instantiation only)."""

    op: int
    as_json: bool = False


@dataclass(frozen=True)
class StateText:
    """`state.text()`: the state's text so far, the concatenation of what it was given (its
    parents' part up to each fork included). Instantiation reduces it, where it is read, to that
    concatenation: a `Const` when every piece is known, else a residual with `Ref`s to the
    generated pieces."""

    state: Expr


@dataclass(frozen=True)
class Global:
    """A module-level Python object (a class, a function) named `module:qualname`, passed to a
    host call. It is not data, so only the executor resolves it (`Scope.read_global`); `source`
    indexes the plan's sources when the module is a compiled program file."""

    name: str
    source: int | None = None


@dataclass(frozen=True)
class Format:
    """One `{value!conversion:spec}` field of an f-string."""

    value: Expr
    conversion: str = ""
    spec: Expr | None = None


@dataclass(frozen=True)
class FString:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // %
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp:
    op: str  # not - +
    operand: Expr


@dataclass(frozen=True)
class BoolOp:
    op: str  # and or
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare:
    left: Expr
    ops: tuple[str, ...]  # == != < <= > >= in notin is isnot
    comparators: tuple[Expr, ...]


@dataclass(frozen=True)
class IfExp:
    test: Expr
    body: Expr
    orelse: Expr


@dataclass(frozen=True)
class Call:
    """A whitelisted builtin (`len`, `range`, `str`, `zip`, `json.dumps`, ...) by name."""

    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True)
class Method:
    """A whitelisted method of str/list/dict (`", ".join(xs)`, `q.strip()`, `d.get(k)`)."""

    obj: Expr
    method: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True)
class Subscript:
    value: Expr
    index: Expr


@dataclass(frozen=True)
class Slice:
    lower: Expr | None = None
    upper: Expr | None = None
    step: Expr | None = None


@dataclass(frozen=True)
class Seq:
    kind: str  # list tuple
    elts: tuple[Expr, ...]


@dataclass(frozen=True)
class DictOf:
    keys: tuple[Expr, ...]
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class CompFor:
    target: Pattern
    iter: Expr
    ifs: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Comp:
    """A list/generator/dict comprehension; generators and dict comps evaluate to lists/dicts."""

    kind: str  # list gen dict
    elt: Expr
    generators: tuple[CompFor, ...]
    key: Expr | None = None


Expr = (
    Const | Name | Var | Ref | StateText | Global | Format | FString | BinOp | UnaryOp | BoolOp | Compare | IfExp | Call
    | Method | Subscript | Slice | Seq | DictOf | Comp
)

EXPR_TYPES: tuple[type, ...] = (
    Const, Name, Var, Ref, StateText, Global, Format, FString, BinOp, UnaryOp, BoolOp, Compare, IfExp, Call, Method,
    Subscript, Slice, Seq, DictOf, Comp,
)


def children(expr: Expr) -> Iterator[Expr]:
    """Direct sub-expressions, in field order (comprehension iterables and filters included)."""
    if isinstance(expr, Const):
        return
    for f in fields(expr):
        yield from _exprs_in(getattr(expr, f.name))


def _exprs_in(value: Any) -> Iterator[Expr]:
    if isinstance(value, EXPR_TYPES):
        yield value
    elif isinstance(value, CompFor):
        yield value.iter
        yield from value.ifs
    elif isinstance(value, tuple):
        for item in value:
            yield from _exprs_in(item)


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, pre-order."""
    yield expr
    for child in children(expr):
        yield from walk(child)


def pattern_names(pattern: Pattern) -> list[str]:
    if isinstance(pattern, str):
        return [pattern]
    return [name for item in pattern for name in pattern_names(item)]


def free_names(expr: Expr) -> set[str]:
    """Names the expression reads from its environment (comprehension targets excluded)."""
    if isinstance(expr, Name):
        return {expr.id}
    if isinstance(expr, Comp):
        bound: set[str] = set()
        out: set[str] = set()
        for gen in expr.generators:
            out |= free_names(gen.iter) - bound
            bound |= set(pattern_names(gen.target))
            for cond in gen.ifs:
                out |= free_names(cond) - bound
        for part in (expr.elt, expr.key):
            if part is not None:
                out |= free_names(part) - bound
        return out
    out = set()
    for child in children(expr):
        out |= free_names(child)
    return out


def var_reads(expr: Expr) -> list[Var]:
    """The `s[name]` reads inside an expression: the data dependences of whoever holds it."""
    return [e for e in walk(expr) if isinstance(e, Var)]


def text_reads(expr: Expr) -> list[StateText]:
    """The `s.text()` reads inside an expression: its value depends on where it is evaluated."""
    return [e for e in walk(expr) if isinstance(e, StateText)]
