"""Where an expression's names come from, and the errors evaluation can raise."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lmc.plan.expr.builtins import MAX_SEQUENCE
from lmc.plan.expr.nodes import Const, Expr, Global, Pattern, pattern_names
from lmc.plan.expr.render import unparse

PYTHON_ERRORS = (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError)


class EvalError(Exception):
    """An expression cannot be evaluated for this row (a missing key, a wrong type, ...)."""


MISSING: Any = object()  # read_ref's answer for a value that is not generated yet
SYMBOLIC: Any = object()  # env marker: a comprehension target inside a residual comprehension


@dataclass
class Scope:
    """Where names come from: `env` (inputs, locals), how to read generated values and a state's
    text (in a row only), and (in the executor only) how to resolve a `Global` to its object."""

    env: Mapping[str, Any]
    read_var: Callable[[Any, str, bool], Expr] | None = None  # (state, name, as_json) -> Const|Ref
    read_ref: Callable[[int, bool], Any] | None = None  # (op, as_json) -> value or MISSING
    read_global: Callable[[Global], Any] | None = None
    read_text: Callable[[Any], Expr] | None = None  # state -> its text so far, Const or residual

    def bind(self, target: Pattern, value: Any) -> Scope:
        return self.over(ChainMap(bind_pattern(target, value), self.env))

    def over(self, env: Mapping[str, Any]) -> Scope:
        """The same readers over another environment."""
        return replace(self, env=env)


def bind_pattern(target: Pattern, value: Any) -> dict[str, Any]:
    """Python's assignment destructuring, with a message that names the pattern on mismatch."""
    if isinstance(target, str):
        return {target: value}
    if value is SYMBOLIC:
        return {name: SYMBOLIC for name in pattern_names(target)}
    if not isinstance(value, (list, tuple)) or len(value) != len(target):
        raise EvalError(f"cannot unpack {value!r} into {len(target)} names {pattern_names(target)}")
    out: dict[str, Any] = {}
    for sub, item in zip(target, value):
        out.update(bind_pattern(sub, item))
    return out


def iterate(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, (list, tuple, str)):
        return list(value)
    raise EvalError(f"cannot iterate over {type(value).__name__} {value!r}")


def apply(what: Expr, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Const:
    """`fn(*args)` as a Const; Python's errors become an EvalError that quotes `what`."""
    try:
        value = fn(*args, **kwargs)
    except EvalError:
        raise
    except PYTHON_ERRORS as exc:
        raise EvalError(f"`{unparse(what)}` failed: {type(exc).__name__}: {exc}") from None
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_SEQUENCE * 16:
        raise EvalError(f"`{unparse(what)}` built a value of {len(value)} items")
    return Const(value)
