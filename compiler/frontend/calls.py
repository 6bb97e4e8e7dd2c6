"""Calls (allowed builtins, whitelisted methods, `s.json(name)`) and comprehensions; every other
callee is an error that says what programs may call."""

from __future__ import annotations

import ast
from typing import Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import MISSING, Binding
from lmc.compiler.frontend.expressions import ALLOWED_HINT, STATE_METHODS_HINT, ExprLowering
from lmc.compiler.frontend.globals import (
    MUTATING_METHODS,
    builtin_name,
    describe,
    io_name,
    primitive_name,
)
from lmc.compiler.frontend.kinds import PARAM, STATE, Kind
from lmc.plan.expr import Call as CallExpr
from lmc.plan.expr import Comp, CompFor, Expr, Method
from lmc.plan.expr.builtins import METHODS
from lmc.plan.program import Program


class CallLowering(ExprLowering):
    def _check_call_shape(self, node: ast.Call) -> None:
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "`*args` in a call is not supported", "pass the arguments one by one")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(kw.value, "`**kwargs` in a call is not supported", "pass keyword arguments by name")

    def _expr_Call(self, node: ast.Call) -> tuple[Expr, Kind]:
        self._check_call_shape(node)
        func = node.func
        target = self.static_object(func)
        if target is not MISSING:
            return self._static_call(node, target, ast.unparse(func))
        if isinstance(func, ast.Attribute):
            return self._method_call(node, func)
        if isinstance(func, ast.Name):
            raise self.error(func, f"`{func.id}` is a local value and cannot be called", ALLOWED_HINT)
        raise self.error(func, "only named functions can be called here", ALLOWED_HINT)

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> tuple[Expr, Kind]:
        recv, rk = self.lower_expr(func.value)
        if rk == STATE:
            if func.attr == "json" and len(node.args) == 1 and not node.keywords:
                name, nk = self.lower_expr(node.args[0])
                return self.var_read(node, recv, name, nk, as_json=True)
            if func.attr == "fork":
                raise self.error(node, "s.fork(n) must be assigned to a name", "write: forks = s.fork(n)")
            if func.attr == "join":
                raise self.error(node, "s.join(forks) is a statement on its own line")
            raise self.error(node, f"a state has no method `{func.attr}`", STATE_METHODS_HINT)
        if func.attr in MUTATING_METHODS:
            raise self.error(node, f"`.{func.attr}(...)` mutates a value in place, which programs cannot do",
                             "build a new value instead: xs = xs + [item], d = {**d, key: value}")
        if func.attr not in METHODS:
            raise self.error(func, f"the method `.{func.attr}(...)` is not allowed", ALLOWED_HINT)
        if K.has_state(rk):
            raise self.error(func.value, "a list of states has no methods", "index it, iterate it, or take len()")
        args, kinds = self._elements(node.args)
        kwargs, kw_kinds = self._elements([kw.value for kw in node.keywords])
        pairs = tuple((kw.arg or "", e) for kw, e in zip(node.keywords, kwargs))
        return Method(recv, func.attr, tuple(args), pairs), K.join(rk, *kinds, *kw_kinds)

    def _static_call(self, node: ast.Call, target: Any, label: str) -> tuple[Expr, Kind]:
        if isinstance(target, Program):
            raise self.error(node, f"the program `{label}` must be called as a statement",
                             f"write `{label}(s, ...)` on its own line (or `x = {label}(s, ...)`)")
        if primitive_name(target):
            raise self.error(node, f"`{label}(...)` must be appended to a state",
                             f"write `s += {label}(...)` (combine pieces with +)")
        io = io_name(target)
        if io is not None:
            raise self.error(node, f"`{io}(...)` cannot run inside an lmc program (it is compiled, not executed per row)",
                             "do I/O outside the program: pass data in as inputs, and read results from its outputs")
        name = builtin_name(target)
        lowered = [self.lower_expr(a) for a in node.args]
        kw = [(k.arg or "", *self.lower_expr(k.value)) for k in node.keywords]
        arg_kinds = [k for _, k in lowered] + [k for _, _, k in kw]
        if name is None:
            if any(K.has_state(k) for k in arg_kinds):
                raise self.error(node, f"the state is passed to `{label}`, which is not an @lmc.program",
                                 f"decorate `{label}` with @lmc.program so it is inlined, or pass it s['name'] values")
            raise self.error(node.func, f"`{label}` is {describe(target)}, which programs cannot call", ALLOWED_HINT)
        kind = self._builtin_kind(node, name, arg_kinds)
        call = CallExpr(name, tuple(e for e, _ in lowered), tuple((k, e) for k, e, _ in kw))
        return call, kind

    def _builtin_kind(self, node: ast.Call, name: str, kinds: list[Kind]) -> Kind:
        if not any(K.has_state(k) for k in kinds):
            return K.join(*kinds)
        if name == "len":
            return PARAM
        elems = [K.element(k) for k in kinds]
        if any(e is None for e in elems):
            raise self.error(node, f"`{name}(...)` cannot take a state", "iterate over a list of forks instead")
        if name == "zip":
            return K.list_of(K.tuple_of(*elems))  # type: ignore[arg-type]
        if name == "enumerate" and len(elems) >= 1:
            return K.list_of(K.tuple_of(PARAM, elems[0]))  # type: ignore[arg-type]
        if name in ("list", "reversed") and len(elems) == 1:
            return K.list_of(elems[0])  # type: ignore[arg-type]
        raise self.error(node, f"the state is passed to `{name}`, which cannot take states",
                         "states go to @lmc.program functions, zip(), enumerate(), list() and len()")

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp, kind: str) -> tuple[Expr, Kind]:
        saved = dict(self.frame.bindings)
        try:
            gens: list[CompFor] = []
            for gen in node.generators:
                if gen.is_async:
                    raise self.error(node, "async comprehensions are not supported")
                it, ik = self.lower_expr(gen.iter)
                elem = K.element(ik)
                if elem is None:
                    raise self.error(gen.iter, "a state cannot be iterated", "iterate over forks = s.fork(n)")
                pattern = self.bind_comp_target(gen.target, elem)
                ifs = [self.lower_expr(c) for c in gen.ifs]
                gens.append(CompFor(pattern, it, tuple(e for e, _ in ifs)))
            if isinstance(node, ast.DictComp):
                key, kk = self.lower_expr(node.key)
                value, vk = self.lower_expr(node.value)
                self._no_state(node.value, vk, "a dict value")
                return Comp("dict", value, tuple(gens), key), K.join(kk, vk)
            elt, ek = self.lower_expr(node.elt)
            return Comp(kind, elt, tuple(gens)), K.list_of(ek) if K.has_state(ek) else K.join(ek)
        finally:
            self.frame.bindings = saved

    def bind_comp_target(self, target: ast.expr, kind: Kind) -> Any:
        if isinstance(target, ast.Name):
            self.frame.bindings[target.id] = Binding(target.id, kind)
            return target.id
        if isinstance(target, (ast.Tuple, ast.List)):
            parts = K.unpack(kind, len(target.elts))
            if parts is None:
                raise self.error(target, f"cannot unpack a {kind} into {len(target.elts)} names")
            return tuple(self.bind_comp_target(t, k) for t, k in zip(target.elts, parts))
        raise self.error(target, "a comprehension target must be a name or a tuple of names")

    def _expr_ListComp(self, node: ast.ListComp) -> tuple[Expr, Kind]:
        return self._comprehension(node, "list")

    def _expr_GeneratorExp(self, node: ast.GeneratorExp) -> tuple[Expr, Kind]:
        return self._comprehension(node, "gen")

    def _expr_DictComp(self, node: ast.DictComp) -> tuple[Expr, Kind]:
        return self._comprehension(node, "dict")
