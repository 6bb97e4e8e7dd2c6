"""Calls of other programs: their body lowered in place, locals renamed `name#k.x`, arguments
bound like Python binds them, a final `return` assigned to the call's target."""

from __future__ import annotations

import ast

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import Binding, Frame, Item, local_names
from lmc.compiler.frontend.control import ControlLowering
from lmc.compiler.frontend.kinds import STATE, Kind
from lmc.plan.expr import Expr
from lmc.plan.ir import Assign
from lmc.plan.program import Program


class ProgramLowering(ControlLowering):
    """The complete lowering: expressions, appends, statements, control flow and inlining."""

    def inline(self, call: ast.Call, callee: Program, target: ast.expr | None = None) -> list[Item]:
        """Lower another program's body in place, its locals renamed `name#k.x`."""
        self._check_call_shape(call)
        label = ast.unparse(call.func)
        stack = self.session.stack
        if any(p is callee for p in stack):
            chain = " -> ".join(p.name for p in [*stack, callee])
            raise self.error(call, f"recursive program call ({chain}) cannot be inlined",
                             "programs are inlined at compile time; use a bounded loop (for _ in range(n)) instead")
        if not call.args:
            raise self.error(call, f"pass the state first: {label}(s, ...)")
        state, state_kind = self.lower_expr(call.args[0])
        if state_kind != STATE:
            raise self.error(call.args[0], f"the first argument of {label}(...) must be a state", f"write {label}(s, ...)")
        source, fdef = self.session.sources.function(callee.fn)
        arguments = self._bind_call(call, fdef, label)
        count = self.session.inline_counts.get(callee.name, 0) + 1
        self.session.inline_counts[callee.name] = count
        frame = Frame(callee, source, self.session.source_index(source), f"{callee.name}#{count}.", local_names(fdef))
        items = [Item(Assign(frame.prefix + fdef.args.args[0].arg, state, self.span(call)))]
        frame.bindings[fdef.args.args[0].arg] = Binding(frame.prefix + fdef.args.args[0].arg, STATE)
        caller = self.frame
        self.frame = frame
        stack.append(callee)
        try:
            for name, value in arguments.items():
                expr, kind = self.folded(value) if isinstance(value, ast.expr) else value
                items.append(Item(Assign(self.bind(name, kind, call), expr, self.span(call))))
            body, ret = self.split_return(fdef)
            items += self.lower_block(body)
            result = self.folded(ret.value) if ret is not None and ret.value is not None else None
        finally:
            self.frame = caller
            stack.pop()
        if target is not None:
            if result is None:
                raise self.error(call, f"{label} returns nothing, so its result cannot be assigned",
                                 "end it with `return {...}`, or call it as a statement")
            items.append(Item(Assign(self.bind_target(target, result[1]), result[0], self.span(call))))
        return items

    def _bind_call(self, call: ast.Call, fdef: ast.FunctionDef, label: str) -> dict[str, tuple[Expr, Kind] | ast.expr]:
        """Per callee parameter: the argument lowered in the caller, or the default's AST (it is
        lowered in the callee, where its names mean what they meant at definition)."""
        args = fdef.args
        if args.vararg or args.kwarg:
            raise self.error(call, f"{label} takes *args/**kwargs, which programs cannot have")
        positional = [a.arg for a in (*args.posonlyargs, *args.args)][1:]
        keyword_only = [a.arg for a in args.kwonlyargs]
        defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
        defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
        given: dict[str, ast.expr] = {}
        if len(call.args) - 1 > len(positional):
            raise self.error(call, f"{label} takes {len(positional)} inputs after the state, got {len(call.args) - 1}")
        given.update(zip(positional, call.args[1:]))
        for kw in call.keywords:
            assert kw.arg is not None
            if kw.arg not in positional + keyword_only or kw.arg in given:
                raise self.error(kw.value, f"{label} got an unexpected or repeated argument `{kw.arg}`")
            given[kw.arg] = kw.value
        out: dict[str, tuple[Expr, Kind] | ast.expr] = {}
        for name in positional + keyword_only:
            if name in given:
                expr, kind = self.folded(given[name])
                if K.has_state(kind):
                    raise self.error(given[name], "only the first argument of a program call may be a state")
                out[name] = (expr, kind)
            elif name in defaults:
                out[name] = defaults[name]
            else:
                raise self.error(call, f"{label}(...) is missing the argument `{name}`")
        return out


    def split_return(self, fdef: ast.FunctionDef) -> tuple[list[ast.stmt], ast.Return | None]:
        """The body without its final `return`; a `return` anywhere else is an error."""
        body = list(fdef.body)
        last = body[-1] if body and isinstance(body[-1], ast.Return) else None
        if last is not None:
            body = body[:-1]
        stack: list[ast.AST] = list(body)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Return):
                self._stmt_Return(node)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.extend(ast.iter_child_nodes(node))
        return body, last
