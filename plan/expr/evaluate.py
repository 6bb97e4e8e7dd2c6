"""The tiny interpreter for plan expressions: full evaluation, and partial evaluation (`reduce`).

`reduce` folds everything that is known into `Const` and leaves the rest as a residual tree whose
only unknowns are `Ref`s to generated values; evaluating that residual later, once the values
exist, gives exactly what evaluating the original would have. This is how a row's text can be
fixed at instantiation except for the pieces that wait on a gen.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from lmc.plan.expr.builtins import FUNCTIONS, call_method
from lmc.plan.expr.comprehension import reduce_comp
from lmc.plan.expr.nodes import (
    EXPR_TYPES,
    BinOp,
    BoolOp,
    Call,
    Comp,
    Compare,
    Const,
    DictOf,
    Expr,
    Format,
    FString,
    Global,
    IfExp,
    Method,
    Name,
    Ref,
    Seq,
    Slice,
    StateText,
    Subscript,
    UnaryOp,
    Var,
)
from lmc.plan.expr.render import unparse
from lmc.plan.expr.scope import (
    MISSING,
    SYMBOLIC,
    EvalError,
    Scope,
    apply,
    bind_pattern,
    iterate,
)

__all__ = ["MISSING", "EvalError", "Scope", "bind_pattern", "evaluate", "iterate", "reduce"]

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


def _state_text(e: StateText, scope: Scope) -> Expr:
    state = reduce(e.state, scope)
    if not isinstance(state, Const):
        return StateText(state)  # a comprehension target inside a residual comprehension
    if scope.read_text is None:
        raise EvalError(f"`{unparse(e)}`: a state's text can only be read inside a row")
    return scope.read_text(state.value)


def _global(e: Global, scope: Scope) -> Expr:
    return e if scope.read_global is None else Const(scope.read_global(e))


def _format(e: Format, scope: Scope) -> Expr:
    value = reduce(e.value, scope)
    spec = reduce(e.spec, scope) if e.spec is not None else Const("")
    if not isinstance(value, Const) or not isinstance(spec, Const):
        return Format(value, e.conversion, spec if e.spec is not None else None)
    v = value.value
    v = {"s": str, "r": repr, "a": ascii}.get(e.conversion, lambda x: x)(v)
    return apply(e, format, v, spec.value)


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
        return apply(e, _BINOPS[e.op], left.value, right.value)
    return BinOp(e.op, left, right)


def _unary(e: UnaryOp, scope: Scope) -> Expr:
    operand = reduce(e.operand, scope)
    if isinstance(operand, Const):
        return apply(e, _UNARY[e.op], operand.value)
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
        if not apply(e, _CMPOPS[op], a, b).value:
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
        return apply(e, fn, *(a.value for a in args), **{k: v.value for k, v in kwargs})  # type: ignore[union-attr]
    return Call(e.func, args, kwargs)


def _method(e: Method, scope: Scope) -> Expr:
    obj = reduce(e.obj, scope)
    args, kwargs = _args(e, scope)
    if isinstance(obj, Const) and _all_const(args) and _all_const([v for _, v in kwargs]):
        return apply(e, call_method, obj.value, e.method, [a.value for a in args],  # type: ignore[union-attr]
                      {k: v.value for k, v in kwargs})  # type: ignore[union-attr]
    return Method(obj, e.method, args, kwargs)


def _subscript(e: Subscript, scope: Scope) -> Expr:
    value, index = reduce(e.value, scope), reduce(e.index, scope)
    if isinstance(value, Const) and isinstance(index, Const):
        return apply(e, operator.getitem, value.value, index.value)
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
        return apply(e, dict, zip((k.value for k in keys), (v.value for v in values)))  # type: ignore[union-attr]
    return DictOf(keys, values)


def _const(e: Const, scope: Scope) -> Expr:
    return e


_HANDLERS: dict[type, Callable[[Any, Scope], Expr]] = {
    Const: _const, Name: _name, Var: _var, Ref: _ref, StateText: _state_text, Global: _global,
    Format: _format, FString: _fstring, BinOp: _binop, UnaryOp: _unary, BoolOp: _boolop, Compare: _compare, IfExp: _ifexp,
    Call: _call, Method: _method, Subscript: _subscript, Slice: _slice, Seq: _seq,
    DictOf: _dict, Comp: lambda e, scope: reduce_comp(e, scope, reduce),
}
