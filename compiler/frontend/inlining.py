"""Calls of other programs: their body lowered in place, locals renamed `name#k.x`, arguments
bound like Python binds them, a final `return` assigned to the call's target. A program called
without a state (`expand(tip=...)`) runs, as in SGLang, on a new state of its own (NewState),
which the call returns: the caller reads its variables, `branch["detailed_tip"]`."""

from __future__ import annotations

import ast
import inspect
from typing import TYPE_CHECKING

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.calls import check_call_shape
from lmc.compiler.frontend.context import Binding, Context, Frame, Item, local_names
from lmc.compiler.frontend.kinds import STATE, Kind
from lmc.plan.errors import CompileError
from lmc.plan.expr import Expr, Name
from lmc.plan.ir import Assign, NewState
from lmc.plan.program import Program

if TYPE_CHECKING:
    from lmc.compiler.frontend.statements import StatementLowerer


class Inliner:
    """Lowers a call of another program through the statement lowerer, in a frame of its own."""

    def __init__(self, ctx: Context, statements: StatementLowerer) -> None:
        self.ctx = ctx
        self.statements = statements
        self.exprs = statements.exprs

    def callee(self, value: ast.expr) -> Program | None:
        """The program `value` calls: an @lmc.program, or (as SGLang runs it) a plain Python
        function whose first argument is a state, inlined the same way."""
        if not isinstance(value, ast.Call):
            return None
        target = self.ctx.static_object(value.func)
        if isinstance(target, Program):
            return target
        if not inspect.isfunction(target) or not value.args or isinstance(value.args[0], ast.Starred):
            return None
        if not self._is_state(value.args[0]):
            return None
        return Program(target)

    def _is_state(self, node: ast.expr) -> bool:
        try:
            return self.exprs.lower(node)[1] == STATE
        except CompileError:
            return False

    def inline(self, call: ast.Call, callee: Program, target: ast.expr | None = None) -> list[Item]:
        """Lower another program's body in place, its locals renamed `name#k.x`."""
        ctx = self.ctx
        check_call_shape(ctx, call)
        label = ast.unparse(call.func)
        stack = ctx.stack
        if any(p.fn is callee.fn for p in stack):
            chain = " -> ".join(p.name for p in [*stack, callee])
            raise ctx.error(call, f"recursive program call ({chain}) cannot be inlined",
                            "programs are inlined at compile time; use a bounded loop (for _ in range(n)) instead")
        source, fdef = ctx.sources.function(callee.fn)
        stateless = not call.args or not self._is_state(call.args[0])
        arguments = self._bind_call(call, fdef, label, call.args if stateless else call.args[1:])
        count = ctx.inline_counts.get(callee.name, 0) + 1
        ctx.inline_counts[callee.name] = count
        frame = Frame(callee, source, ctx.source_index(source), f"{callee.name}#{count}.", local_names(fdef))
        state_param = fdef.args.args[0].arg
        if stateless:  # SGLang runs it on a new state of its own, and returns that state
            own = f"{frame.prefix}{state_param}"
            items = [Item(NewState(own, ctx.span(call)))]
        else:
            state, _ = self.exprs.lower(call.args[0])
            items = [Item(Assign(frame.prefix + state_param, state, ctx.span(call)))]
        frame.bindings[state_param] = Binding(frame.prefix + state_param, STATE)
        caller = ctx.frame
        ctx.frame = frame
        stack.append(callee)
        try:
            for name, value in arguments.items():
                expr, kind = self.exprs.folded(value) if isinstance(value, ast.expr) else value
                items.append(Item(Assign(ctx.bind(name, kind, call), expr, ctx.span(call))))
            body, ret = split_return(ctx, fdef)
            items += self.statements.lower_block(body)
            result = None
            if ret is not None and ret.value is not None:
                calls, result = ctx.collect_calls(lambda: self.exprs.folded(ret.value))
                items += calls
        finally:
            ctx.frame = caller
            stack.pop()
        if stateless:
            if target is not None:
                items.append(Item(Assign(ctx.bind_target(target, STATE), Name(own), ctx.span(call))))
            return items
        if target is not None:
            if result is None:
                raise ctx.error(call, f"{label} returns nothing, so its result cannot be assigned",
                                "end it with `return {...}`, or call it as a statement")
            items.append(Item(Assign(ctx.bind_target(target, result[1]), result[0], ctx.span(call))))
        return items

    def _bind_call(self, call: ast.Call, fdef: ast.FunctionDef, label: str,
                   given_args: list[ast.expr]) -> dict[str, tuple[Expr, Kind] | ast.expr]:
        """Per callee parameter: the argument lowered in the caller, or the default's AST (it is
        lowered in the callee, where its names mean what they meant at definition).
        `given_args`: the positional arguments after the state (all of them without one)."""
        error = self.ctx.error
        args = fdef.args
        if args.vararg or args.kwarg:
            raise error(call, f"{label} takes *args/**kwargs, which programs cannot have")
        positional = [a.arg for a in (*args.posonlyargs, *args.args)][1:]
        keyword_only = [a.arg for a in args.kwonlyargs]
        defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
        defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
        given: dict[str, ast.expr] = {}
        if len(given_args) > len(positional):
            raise error(call, f"{label} takes {len(positional)} inputs after the state, got {len(given_args)}")
        given.update(zip(positional, given_args))
        for kw in call.keywords:
            assert kw.arg is not None
            if kw.arg not in positional + keyword_only or kw.arg in given:
                raise error(kw.value, f"{label} got an unexpected or repeated argument `{kw.arg}`")
            given[kw.arg] = kw.value
        out: dict[str, tuple[Expr, Kind] | ast.expr] = {}
        for name in positional + keyword_only:
            if name in given:
                expr, kind = self.exprs.folded(given[name])
                self.ctx.escape(given[name])
                if K.has_state(kind):
                    raise error(given[name], "only the first argument of a program call may be a state")
                out[name] = (expr, kind)
            elif name in defaults:
                out[name] = defaults[name]
            else:
                raise error(call, f"{label}(...) is missing the argument `{name}`")
        return out


def split_return(ctx: Context, fdef: ast.FunctionDef) -> tuple[list[ast.stmt], ast.Return | None]:
    """The body without its final `return`; a `return` anywhere else is an error."""
    body = list(fdef.body)
    last = body[-1] if body and isinstance(body[-1], ast.Return) else None
    if last is not None:
        body = body[:-1]
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            raise misplaced_return(ctx, node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
    return body, last


def misplaced_return(ctx: Context, node: ast.Return) -> Exception:
    return ctx.error(node, "`return` is allowed only as the last statement of a program",
                     "compute the outputs into variables and `return {...}` at the end")
