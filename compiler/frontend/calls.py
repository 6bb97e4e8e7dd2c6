"""Call expressions: allowed builtins, whitelisted methods, `s.json(name)`, and host calls to any
other Python function named from the program's file (host_calls.py); programs and primitives are
statements and appends, I/O and calls that pass the state are errors that say what to write."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import MISSING, Context
from lmc.compiler.frontend.globals import (
    ALLOWED_HINT,
    IO_HINT,
    MUTATING_METHODS,
    STATE_METHODS_HINT,
    builtin_name,
    describe,
    io_message,
    io_name,
    primitive_name,
)
from lmc.compiler.frontend.host_calls import HostCalls, global_path
from lmc.compiler.frontend.kinds import PARAM, STATE, Kind
from lmc.plan.expr import Call, Method, StateText
from lmc.plan.expr.builtins import METHODS
from lmc.plan.program import Program

if TYPE_CHECKING:
    from lmc.compiler.frontend.expressions import ExpressionLowerer, Lowered


def check_call_shape(ctx: Context, node: ast.Call) -> None:
    """Programs' calls pass every argument by name or position: no `*args`, no `**kwargs`."""
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise ctx.error(arg, "`*args` in a call is not supported", "pass the arguments one by one")
    for kw in node.keywords:
        if kw.arg is None:
            raise ctx.error(kw.value, "`**kwargs` in a call is not supported", "pass keyword arguments by name")


class CallLowerer:
    """The `ast.Call` entry of the expression lowerer; lowers arguments through it."""

    def __init__(self, ctx: Context, exprs: ExpressionLowerer) -> None:
        self.ctx = ctx
        self.exprs = exprs
        self.host = HostCalls(ctx, exprs)

    def lower(self, node: ast.Call) -> Lowered:
        check_call_shape(self.ctx, node)
        func = node.func
        target = self.ctx.static_object(func)
        if target is not MISSING:
            return self._static_call(node, target, ast.unparse(func))
        path = self.host.callee(func)
        if path is not None:  # an attribute of a global that is not a module: Model.model_json_schema
            return self.host.lower(node, path)
        if isinstance(func, ast.Attribute):
            return self._method_call(node, func)
        frame = self.ctx.frame
        if isinstance(func, ast.Name):
            if func.id not in frame.bindings and func.id not in frame.local_names:
                raise self.ctx.error(func, f"name `{func.id}` is not defined", ALLOWED_HINT)
            raise self.ctx.error(func, f"`{func.id}` is a local value and cannot be called", ALLOWED_HINT)
        if isinstance(func, ast.Subscript) and isinstance(self.ctx.static_object(func.value), dict):
            return self.host.lower_table(node, func)  # TOOLS[action](arg): a tool table
        raise self.ctx.error(func, "only named functions can be called here", ALLOWED_HINT)

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> Lowered:
        error = self.ctx.error
        recv, rk = self.exprs.lower(func.value)
        if rk == STATE:
            if func.attr == "json" and len(node.args) == 1 and not node.keywords:
                name, nk = self.exprs.lower(node.args[0])
                return self.exprs.var_read(node, recv, name, nk, as_json=True)
            if func.attr == "fork":
                raise error(node, "s.fork(n) must be assigned to a name", "write: forks = s.fork(n)")
            if func.attr == "join":
                raise error(node, "s.join(forks) is a statement on its own line")
            if func.attr == "text":
                if node.args or node.keywords:
                    raise error(node, "s.text() takes no arguments")
                return StateText(recv), K.gen()  # generated text wherever a gen came before it
            raise error(node, f"a state has no method `{func.attr}`", STATE_METHODS_HINT)
        if K.has_state(rk) and func.attr == "join":
            raise error(node, "forks.join() is a statement on its own line (it returns nothing)",
                        "write forks.join(), then read the branches' variables as forks[i][\"name\"]")
        if func.attr in MUTATING_METHODS:
            raise error(node, f"`.{func.attr}(...)` mutates a value in place, which programs cannot do",
                        "build a new value instead: xs = xs + [item], d = {**d, key: value}")
        if func.attr not in METHODS:
            raise error(func, f"the method `.{func.attr}(...)` is not allowed", ALLOWED_HINT)
        if K.has_state(rk):
            raise error(func.value, "a list of states has no methods", "index it, iterate it, or take len()")
        args, kinds = self.exprs.elements(node.args)
        kwargs, kw_kinds = self.exprs.elements([kw.value for kw in node.keywords])
        pairs = tuple((kw.arg or "", e) for kw, e in zip(node.keywords, kwargs))
        return Method(recv, func.attr, tuple(args), pairs), K.join(rk, *kinds, *kw_kinds)

    def _static_call(self, node: ast.Call, target: Any, label: str) -> Lowered:
        error = self.ctx.error
        if isinstance(target, Program):
            raise error(node, f"the program `{label}` must be called as a statement",
                        f"write `{label}(s, ...)` on its own line (or `x = {label}(s, ...)`)")
        if primitive_name(target):
            raise error(node, f"`{label}(...)` must be appended to a state",
                        f"write `s += {label}(...)` (combine pieces with +)")
        io = io_name(target)
        if io is not None:
            raise error(node, io_message(io), IO_HINT)
        name = builtin_name(target)
        if name is None:
            path = global_path(self.ctx, node.func)
            if path is None:
                raise error(node.func, f"`{label}` is {describe(target)}, which programs cannot call", ALLOWED_HINT)
            return self.host.lower(node, path)
        lowered = [self.exprs.lower(a) for a in node.args]
        kw = [(k.arg or "", *self.exprs.lower(k.value)) for k in node.keywords]
        arg_kinds = [k for _, k in lowered] + [k for _, _, k in kw]
        kind = self._builtin_kind(node, name, arg_kinds)
        call = Call(name, tuple(e for e, _ in lowered), tuple((k, e) for k, e, _ in kw))
        return call, kind

    def _builtin_kind(self, node: ast.Call, name: str, kinds: list[Kind]) -> Kind:
        if not any(K.has_state(k) for k in kinds):
            return K.join(*kinds)
        if name == "len":
            return PARAM
        elems = [K.element(k) for k in kinds]
        if any(e is None for e in elems):
            raise self.ctx.error(node, f"`{name}(...)` cannot take a state", "iterate over a list of forks instead")
        if name == "zip":
            return K.list_of(K.tuple_of(*elems))  # type: ignore[arg-type]
        if name == "enumerate" and len(elems) >= 1:
            return K.list_of(K.tuple_of(PARAM, elems[0]))  # type: ignore[arg-type]
        if name in ("list", "reversed") and len(elems) == 1:
            return K.list_of(elems[0])  # type: ignore[arg-type]
        raise self.ctx.error(node, f"the state is passed to `{name}`, which cannot take states",
                             "states go to @lmc.program functions, zip(), enumerate(), list() and len()")
