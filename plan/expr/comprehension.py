"""Comprehensions: unrolled over known iterables (elements may stay residual), or kept whole with
their outer names substituted when an iterable or a filter waits on a generated value."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from typing import Any

from lmc.plan.expr.nodes import Comp, CompFor, Const, DictOf, Expr, Seq, pattern_names
from lmc.plan.expr.scope import SYMBOLIC, Scope, iterate

Reduce = Callable[[Expr, Scope], Expr]


def reduce_comp(e: Comp, scope: Scope, reduce: Reduce) -> Expr:
    items: list[tuple[Expr | None, Expr]] = []
    if not _unroll(e, e.generators, scope, items, reduce):
        return _residual(e, scope, reduce)
    keys = [k for k, _ in items]
    elts = [v for _, v in items]
    if e.kind == "dict":
        return reduce(DictOf(tuple(keys), tuple(elts)), scope)  # type: ignore[arg-type]
    if all(isinstance(x, Const) for x in elts):
        return Const([x.value for x in elts])  # type: ignore[union-attr]
    return Seq("list", tuple(elts))


def _unroll(e: Comp, gens: tuple[CompFor, ...], scope: Scope,
            out: list[tuple[Expr | None, Expr]], reduce: Reduce) -> bool:
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
        if keep and not _unroll(e, gens[1:], inner, out, reduce):
            return False
    return True


def _residual(e: Comp, scope: Scope, reduce: Reduce) -> Expr:
    bound: dict[str, Any] = {}
    gens: list[CompFor] = []
    for g in e.generators:
        it = reduce(g.iter, scope.over(ChainMap(bound, scope.env)))
        bound.update({n: SYMBOLIC for n in pattern_names(g.target)})
        inner = scope.over(ChainMap(bound, scope.env))
        gens.append(CompFor(g.target, it, tuple(reduce(c, inner) for c in g.ifs)))
    inner = scope.over(ChainMap(bound, scope.env))
    key = reduce(e.key, inner) if e.key is not None else None
    return Comp(e.kind, reduce(e.elt, inner), tuple(gens), key)
