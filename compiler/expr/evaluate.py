"""The tiny interpreter for plan expressions: full evaluation, and partial evaluation (`reduce`).

`reduce` folds everything that is known into `Const` and leaves the rest as a residual tree whose
only unknowns are `Ref`s to generated values; evaluating that residual later, once the values
exist, gives exactly what evaluating the original would have. This is how a row's text can be
fixed at instantiation except for the pieces that wait on a gen.
"""

from __future__ import annotations

import operator
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lmc.compiler.expr.builtins import FUNCTIONS, MAX_SEQUENCE, call_method
from lmc.compiler.expr.nodes import (
    EXPR_TYPES,
    BinOp,
    BoolOp,
    Call,
    Comp,
    Compare,
    CompFor,
    Const,
    DictOf,
    Expr,
    Format,
    FString,
    IfExp,
    Method,
    Name,
    Pattern,
    Ref,
    Seq,
    Slice,
    Subscript,
    UnaryOp,
    Var,
    pattern_names,
)
from lmc.compiler.expr.render import unparse


class EvalError(Exception):
    """An expression cannot be evaluated for this row (a missing key, a wrong type, ...)."""


MISSING: Any = object()  # read_ref's answer for a value that is not generated yet
SYMBOLIC: Any = object()  # env marker: a comprehension target inside a residual comprehension

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod,
}
_CMPOPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b, "is": operator.is_, "isnot": operator.is_not,
}
_UNARY: dict[str, Callable[[Any], Any]] = {"not": operator.not_, "-": operator.neg, "+": operator.pos}
_PYTHON_ERRORS = (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError)


@dataclass
class Scope:
    """Where names come from: `env` (inputs, locals), and how to read generated values."""

    env: Mapping[str, Any]
    read_var: Callable[[Any, str, bool], Expr] | None = None  # (state, name, as_json) -> Const|Ref
    read_ref: Callable[[int, bool], Any] | None = None  # (op, as_json) -> value or MISSING

    def bind(self, target: Pattern, value: Any) -> Scope:
        return Scope(ChainMap(bind_pattern(target, value), self.env), self.read_var, self.read_ref)


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


def evaluate(expr: Expr, env: Mapping[str, Any], read_var: Callable[..., Expr] | None = None,
             read_ref: Callable[[int, bool], Any] | None = None) -> Any:
    """The value of `expr`; raises EvalError if it still depends on a value not generated yet."""
    result = reduce(expr, Scope(env, read_var, read_ref))
    if not isinstance(result, Const):
        raise EvalError(f"`{unparse(expr)}` depends on generated values that do not exist yet")
    return result.value


def reduce(expr: Expr, scope: Scope) -> Expr:
    """Partially evaluate: a `Const` if everything is known, else a residual with `Ref`s."""
    handler = _HANDLERS.get(type(expr))
    if handler is None:
        raise EvalError(f"cannot evaluate {type(expr).__name__}")
    return handler(expr, scope)


def _apply(what: Expr, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Const:
    try:
        value = fn(*args, **kwargs)
    except EvalError:
        raise
    except _PYTHON_ERRORS as exc:
        raise EvalError(f"`{unparse(what)}` failed: {type(exc).__name__}: {exc}") from None
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_SEQUENCE * 16:
        raise EvalError(f"`{unparse(what)}` built a value of {len(value)} items")
    return Const(value)


def _all_const(items: tuple[Expr, ...] | list[Expr]) -> bool:
    return all(isinstance(i, Const) for i in items)


def _name(e: Name, scope: Scope) -> Expr:
    if e.id not in scope.env:
        raise EvalError(f"name {e.id!r} is not defined")
    value = scope.env[e.id]
    if value is SYMBOLIC:
        return e
    if isinstance(value, EXPR_TYPES):
        return value  # a local bound to a residual (it waits on a generated value)
    return Const(value)


def _var(e: Var, scope: Scope) -> Expr:
    state, name = reduce(e.state, scope), reduce(e.name, scope)
    if not isinstance(state, Const) or not isinstance(name, Const):
        raise EvalError(f"`{unparse(e)}`: the state and the variable name must be known here")
    if scope.read_var is None:
        raise EvalError(f"`{unparse(e)}`: generated variables cannot be read here")
    if not isinstance(name.value, str):
        raise EvalError(f"`{unparse(e)}`: a variable name must be a str, got {name.value!r}")
    return scope.read_var(state.value, name.value, e.as_json)


def _ref(e: Ref, scope: Scope) -> Expr:
    if scope.read_ref is None:
        return e
    value = scope.read_ref(e.op, e.as_json)
    return e if value is MISSING else Const(value)


def _format(e: Format, scope: Scope) -> Expr:
    value = reduce(e.value, scope)
    spec = reduce(e.spec, scope) if e.spec is not None else Const("")
    if not isinstance(value, Const) or not isinstance(spec, Const):
        return Format(value, e.conversion, spec if e.spec is not None else None)
    v = value.value
    v = {"s": str, "r": repr, "a": ascii}.get(e.conversion, lambda x: x)(v)
    return _apply(e, format, v, spec.value)


def _fstring(e: FString, scope: Scope) -> Expr:
    parts = tuple(reduce(p, scope) for p in e.parts)
    if _all_const(parts):
        return Const("".join(str(p.value) for p in parts))  # type: ignore[union-attr]
    merged: list[Expr] = []
    for p in parts:
        if merged and isinstance(p, Const) and isinstance(merged[-1], Const):
            merged[-1] = Const(str(merged[-1].value) + str(p.value))
        else:
            merged.append(p)
    return FString(tuple(merged))


def _binop(e: BinOp, scope: Scope) -> Expr:
    left, right = reduce(e.left, scope), reduce(e.right, scope)
    if isinstance(left, Const) and isinstance(right, Const):
        return _apply(e, _BINOPS[e.op], left.value, right.value)
    return BinOp(e.op, left, right)


def _unary(e: UnaryOp, scope: Scope) -> Expr:
    operand = reduce(e.operand, scope)
    if isinstance(operand, Const):
        return _apply(e, _UNARY[e.op], operand.value)
    return UnaryOp(e.op, operand)


def _boolop(e: BoolOp, scope: Scope) -> Expr:
    rest: list[Expr] = []
    for i, item in enumerate(e.values):
        r = reduce(item, scope)
        if isinstance(r, Const) and not rest:
            decisive = (not r.value) if e.op == "and" else bool(r.value)
            if decisive or i == len(e.values) - 1:
                return r
            continue
        rest.append(r)
    return rest[0] if len(rest) == 1 else BoolOp(e.op, tuple(rest))


def _compare(e: Compare, scope: Scope) -> Expr:
    left = reduce(e.left, scope)
    comps = tuple(reduce(c, scope) for c in e.comparators)
    if not (isinstance(left, Const) and _all_const(comps)):
        return Compare(left, e.ops, comps)
    a = left.value
    for op, c in zip(e.ops, comps):
        b = c.value  # type: ignore[union-attr]
        if not _apply(e, _CMPOPS[op], a, b).value:
            return Const(False)
        a = b
    return Const(True)


def _ifexp(e: IfExp, scope: Scope) -> Expr:
    test = reduce(e.test, scope)
    if isinstance(test, Const):
        return reduce(e.body if test.value else e.orelse, scope)
    return IfExp(test, reduce(e.body, scope), reduce(e.orelse, scope))


def _args(e: Call | Method, scope: Scope) -> tuple[tuple[Expr, ...], tuple[tuple[str, Expr], ...]]:
    return (tuple(reduce(a, scope) for a in e.args),
            tuple((k, reduce(v, scope)) for k, v in e.kwargs))


def _call(e: Call, scope: Scope) -> Expr:
    fn = FUNCTIONS.get(e.func)
    if fn is None:
        raise EvalError(f"{e.func}() is not an allowed function")
    args, kwargs = _args(e, scope)
    if _all_const(args) and _all_const([v for _, v in kwargs]):
        return _apply(e, fn, *(a.value for a in args), **{k: v.value for k, v in kwargs})  # type: ignore[union-attr]
    return Call(e.func, args, kwargs)


def _method(e: Method, scope: Scope) -> Expr:
    obj = reduce(e.obj, scope)
    args, kwargs = _args(e, scope)
    if isinstance(obj, Const) and _all_const(args) and _all_const([v for _, v in kwargs]):
        return _apply(e, call_method, obj.value, e.method, [a.value for a in args],  # type: ignore[union-attr]
                      {k: v.value for k, v in kwargs})  # type: ignore[union-attr]
    return Method(obj, e.method, args, kwargs)


def _subscript(e: Subscript, scope: Scope) -> Expr:
    value, index = reduce(e.value, scope), reduce(e.index, scope)
    if isinstance(value, Const) and isinstance(index, Const):
        return _apply(e, operator.getitem, value.value, index.value)
    return Subscript(value, index)


def _slice(e: Slice, scope: Scope) -> Expr:
    parts = [reduce(p, scope) if p is not None else Const(None) for p in (e.lower, e.upper, e.step)]
    if _all_const(parts):
        return Const(slice(*(p.value for p in parts)))  # type: ignore[union-attr]
    return Slice(*parts)


def _seq(e: Seq, scope: Scope) -> Expr:
    elts = tuple(reduce(x, scope) for x in e.elts)
    if _all_const(elts):
        values = [x.value for x in elts]  # type: ignore[union-attr]
        return Const(values if e.kind == "list" else tuple(values))
    return Seq(e.kind, elts)


def _dict(e: DictOf, scope: Scope) -> Expr:
    keys = tuple(reduce(k, scope) for k in e.keys)
    values = tuple(reduce(v, scope) for v in e.values)
    if _all_const(keys) and _all_const(values):
        return _apply(e, dict, zip((k.value for k in keys), (v.value for v in values)))  # type: ignore[union-attr]
    return DictOf(keys, values)


def _comp(e: Comp, scope: Scope) -> Expr:
    items: list[tuple[Expr | None, Expr]] = []
    if not _unroll(e, e.generators, scope, items):
        return _comp_residual(e, scope)
    keys = [k for k, _ in items]
    elts = [v for _, v in items]
    if e.kind == "dict":
        return _dict(DictOf(tuple(keys), tuple(elts)), scope)  # type: ignore[arg-type]
    if _all_const(elts):
        return Const([x.value for x in elts])  # type: ignore[union-attr]
    return Seq("list", tuple(elts))


def _unroll(e: Comp, gens: tuple[CompFor, ...], scope: Scope,
            out: list[tuple[Expr | None, Expr]]) -> bool:
    """Expand a comprehension over known iterables; False if an iterable or filter is unknown."""
    if not gens:
        out.append((reduce(e.key, scope) if e.key is not None else None, reduce(e.elt, scope)))
        return True
    first = gens[0]
    iterable = reduce(first.iter, scope)
    if not isinstance(iterable, Const):
        return False
    for item in iterate(iterable.value):
        inner = scope.bind(first.target, item)
        keep = True
        for cond in first.ifs:
            c = reduce(cond, inner)
            if not isinstance(c, Const):
                return False
            if not c.value:
                keep = False
                break
        if keep and not _unroll(e, gens[1:], inner, out):
            return False
    return True


def _comp_residual(e: Comp, scope: Scope) -> Expr:
    bound: dict[str, Any] = {}
    gens: list[CompFor] = []
    for g in e.generators:
        it = reduce(g.iter, Scope(ChainMap(bound, scope.env), scope.read_var, scope.read_ref))
        bound.update({n: SYMBOLIC for n in pattern_names(g.target)})
        inner = Scope(ChainMap(bound, scope.env), scope.read_var, scope.read_ref)
        gens.append(CompFor(g.target, it, tuple(reduce(c, inner) for c in g.ifs)))
    inner = Scope(ChainMap(bound, scope.env), scope.read_var, scope.read_ref)
    key = reduce(e.key, inner) if e.key is not None else None
    return Comp(e.kind, reduce(e.elt, inner), tuple(gens), key)


def _const(e: Const, scope: Scope) -> Expr:
    return e


_HANDLERS: dict[type, Callable[[Any, Scope], Expr]] = {
    Const: _const, Name: _name, Var: _var, Ref: _ref, Format: _format, FString: _fstring,
    BinOp: _binop, UnaryOp: _unary, BoolOp: _boolop, Compare: _compare, IfExp: _ifexp,
    Call: _call, Method: _method, Subscript: _subscript, Slice: _slice, Seq: _seq,
    DictOf: _dict, Comp: _comp,
}
