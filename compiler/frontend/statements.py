"""Python statements to IR nodes: appends, assignments, forks, joins; the unsupported ones are
errors with a hint. One method per AST statement type, found through `StatementLowerer.table`;
the statement lowerer holds the expression and append lowerers, the control-flow part
(control.py) and the inliner (inlining.py)."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.appends import AppendLowerer
from lmc.compiler.frontend.context import MISSING, Context, Item
from lmc.compiler.frontend.control import ControlLowerer
from lmc.compiler.frontend.expressions import ExpressionLowerer
from lmc.compiler.frontend.forks import ForkLowerer, is_fork_syntax
from lmc.compiler.frontend.globals import json_constant
from lmc.compiler.frontend.inlining import Inliner, misplaced_return
from lmc.compiler.frontend.kinds import STATE
from lmc.compiler.frontend.lists import ListLowerer, builds_list
from lmc.plan.expr import BinOp, Call, Expr, Name, Slice, StateText, Subscript
from lmc.plan.ir import Assign, Break, Continue, Join, RoleBegin, RoleEnd, SetVar
from lmc.plan.language import ROLES

UNSUPPORTED = {
    "Try": ("try/except cannot wrap the steps of a program",
            "remove it: a row that fails becomes an error row and the other rows go on"),
    "TryStar": ("try/except* cannot wrap the steps of a program", "remove it"),
    "AsyncWith": ("`async with` cannot run inside a program", "do it outside the program"),
    "Raise": ("`raise` cannot be compiled", "check inputs before running, or return an error field"),
    "Assert": ("`assert` cannot be compiled", "check inputs before running the program"),
    "Import": ("imports cannot run inside a program", "move the import to the top of the module"),
    "Global": ("`global` would let the program mutate module state (rows run concurrently, in any order)",
               "return values in the output dict instead of writing globals"),
    "Nonlocal": ("`nonlocal` would let the program mutate outer state", "return values instead"),
    "Delete": ("`del` is not supported", "rebind the name to a new value instead"),
    "FunctionDef": ("a function defined inside a program cannot be analysed",
                    "define it at module level, decorated with @lmc.program (it is inlined)"),
    "AsyncFunctionDef": ("a function defined inside a program cannot be analysed",
                         "define it at module level, decorated with @lmc.program"),
    "ClassDef": ("a class defined inside a program cannot be analysed", "define it at module level"),
    "Match": ("`match` is not supported", "use if/elif"),
    "AsyncFor": ("`async for` cannot run inside a program", "use a plain for loop"),
}


class StatementLowerer:
    """Lowers statements in `ctx`'s current frame; the parts it holds share that context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.exprs = ExpressionLowerer(ctx)
        self.appends = AppendLowerer(ctx, self.exprs)
        self.forks = ForkLowerer(ctx, self)
        self.lists = ListLowerer(ctx, self.exprs)
        self.control = ControlLowerer(ctx, self)
        self.inliner = Inliner(ctx, self)
        self.table: dict[type[ast.stmt], Callable[[Any], list[Item]]] = {
            ast.Pass: lambda st: [],
            ast.Return: self.misplaced_return,
            ast.Break: lambda st: [Item(Break(ctx.span(st)))],
            ast.Continue: lambda st: [Item(Continue(ctx.span(st)))],
            ast.Expr: self.expression,
            ast.With: self.with_block,
            ast.ImportFrom: self.import_from,
            ast.Assign: self.assign,
            ast.AnnAssign: self.annotated_assign,
            ast.AugAssign: self.augmented_assign,
            ast.For: self.control.for_loop,
            ast.While: self.control.while_loop,
            ast.If: self.control.branch,
        }

    def lower_block(self, stmts: list[ast.stmt]) -> list[Item]:
        return [item for st in stmts for item in self.lower(st)]

    def lower(self, st: ast.stmt) -> list[Item]:
        name = type(st).__name__
        if name in UNSUPPORTED:
            message, hint = UNSUPPORTED[name]
            raise self.ctx.error(st, message, hint)
        handler = self.table.get(type(st))
        if handler is None:
            raise self.ctx.error(st, f"`{name}` statements are not supported inside programs")
        return self.ctx.with_calls(lambda: handler(st))

    def misplaced_return(self, st: ast.Return) -> list[Item]:
        raise misplaced_return(self.ctx, st)

    # -- expression statements -----------------------------------------------------------------
    def expression(self, st: ast.Expr) -> list[Item]:
        value = st.value
        if isinstance(value, ast.Constant):
            return []  # docstrings and `...`
        if isinstance(value, ast.Call):
            callee = self.inliner.callee(value)
            if callee is not None:
                return self.inliner.inline(value, callee)
            grown = self.lists.grow(value)
            if grown is not None:
                return grown
            if isinstance(value.func, ast.Attribute) and value.func.attr == "join":
                state, kind = self.exprs.lower(value.func.value)
                if kind.tag in ("list", "tuple") and K.has_state(kind):
                    return self.forks.join(value)
                if kind == STATE:
                    if len(value.args) != 1 or value.keywords:
                        raise self.ctx.error(value, "s.join(forks) takes the list of forks")
                    forks, _ = self.exprs.lower(value.args[0])
                    return [Item(Join(state, forks, self.ctx.span(st)))]
            if self.ctx.primitive_of(value):
                raise self.ctx.error(value, f"`{ast.unparse(value.func)}(...)` on its own does nothing",
                                     f"append it to a state: s += {ast.unparse(value)}")
        expr, _ = self.exprs.lower(value)
        calls = self.ctx.calls
        if isinstance(value, ast.Call) and calls and expr == Name(getattr(calls[-1].node, "target", None) or ""):
            calls[-1] = Item(replace(calls[-1].node, target=None))  # a tool called for its effect
            return []
        raise self.ctx.error(value, "the value of this expression is unused",
                             "append it to the state (s += ...) or assign it to a name")

    # -- with blocks ---------------------------------------------------------------------------
    def with_block(self, st: ast.With) -> list[Item]:
        """`with s.user():` (any role) wraps the body's appends in that role, as SGLang does."""
        item = st.items[0] if len(st.items) == 1 else None
        call = item.context_expr if item is not None and item.optional_vars is None else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            raise self.ctx.error(st, "`with` blocks cannot run inside a program, apart from roles",
                                 "write `with s.user():` (or system/assistant); open files outside the program")
        state, kind = self.exprs.lower(call.func.value)
        attr = call.func.attr
        if kind == STATE and attr == "var_scope":
            return self.var_scope(state, call, st)
        if kind != STATE or attr not in ROLES:
            raise self.ctx.error(call, f"`with {ast.unparse(call)}:` is not a role block",
                                 "write `with s.user():`, `with s.assistant():` or `with s.system():`")
        if call.args or call.keywords:
            raise self.ctx.error(call, f"s.{attr}() in a with block takes no arguments")
        span = self.ctx.span(call)
        return [Item(RoleBegin(state, attr, span)), *self.lower_block(st.body), Item(RoleEnd(state, attr, span))]

    def var_scope(self, state: Expr, call: ast.Call, st: ast.With) -> list[Item]:
        """`with s.var_scope(name):`: the text appended to `s` inside the block becomes the
        variable `name`, as SGLang keeps the text's length at the start and slices it at the end:
        a local holds `s.text()` before the body, a SetVar after it stores the rest."""
        if len(call.args) != 1 or call.keywords:
            raise self.ctx.error(call, "s.var_scope(name) takes the variable's name", "write with s.var_scope(\"name\"):")
        name = self.appends.variable_name(call.args[0], "s.var_scope")
        span = self.ctx.span(call)
        start = self.ctx.bind(f"var_scope#{st.lineno}.{st.col_offset}", K.gen(), st)
        since = Subscript(StateText(state), Slice(Call("len", (Name(start),))))
        return [Item(Assign(start, StateText(state), span)), *self.lower_block(st.body),
                Item(SetVar(state, name, since, span))]

    # -- imports -------------------------------------------------------------------------------
    def import_from(self, st: ast.ImportFrom) -> list[Item]:
        """`from lmc.lang.ir import REGEX_INT` in a body (SGLang's test programs import its regex
        constants there): lmc's own modules have no import-time effects, so their constants are
        read now and folded in like module-level ones; any other import would run code."""
        module = st.module or ""
        if st.level or not (module == "lmc" or module.startswith("lmc.")):
            raise self.ctx.error(st, "imports cannot run inside a program (apart from lmc's constants)",
                                 "move the import to the top of the module")
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            raise self.ctx.error(st, f"cannot import {module}: {exc}") from None
        for alias in st.names:
            value = getattr(imported, alias.name, MISSING)
            ok, data = json_constant(value) if value is not MISSING else (False, None)
            if not ok:
                raise self.ctx.error(st, f"`{alias.name}` of {module} is not a constant, so it cannot be imported here",
                                     "import it at the top of the module")
            self.ctx.frame.imported[alias.asname or alias.name] = data
        return []

    # -- assignment ----------------------------------------------------------------------------
    def assign(self, st: ast.Assign) -> list[Item]:
        if len(st.targets) != 1:
            raise self.ctx.error(st, "chained assignment (a = b = ...) is not supported", "assign one target per statement")
        return self.assign_to(st.targets[0], st.value, st)

    def annotated_assign(self, st: ast.AnnAssign) -> list[Item]:
        if st.value is None:
            return []
        return self.assign_to(st.target, st.value, st)

    def assign_to(self, target: ast.expr, value: ast.expr, st: ast.stmt) -> list[Item]:
        self.check_target(target, value)
        forked = self.forks.assign(target, value, st)
        if forked is not None:
            return forked
        callee = self.inliner.callee(value)
        if callee is not None:
            return self.inliner.inline(value, callee, target)
        nested = self.ctx.find_primitive(value)
        if nested is not None:
            raise self.ctx.error(nested, f"`{ast.unparse(nested.func)}(...)` must be appended to a state, not assigned",
                                 "write s += lmc.gen(\"name\", ...) and read it back with s[\"name\"]")
        expr, kind = self.exprs.folded(value)
        self.ctx.escape(value)
        if isinstance(target, ast.Name):
            empty = isinstance(value, ast.List) and not value.elts
            pattern = self.ctx.bind(target.id, kind, target, fresh=builds_list(value), empty=empty)
        else:
            pattern = self.ctx.bind_target(target, kind)
        return [Item(Assign(pattern, expr, self.ctx.span(st)))]

    def check_target(self, target: ast.expr, value: ast.expr | None = None) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                if isinstance(elt, ast.Starred):
                    fork = value is not None and is_fork_syntax(value)
                    raise self.ctx.error(elt, "starred unpacking of forks is not supported" if fork
                                         else "starred unpacking is not supported",
                                         "keep the list: forks = s.fork(n), then index forks[i]" if fork
                                         else "index the sequence instead")
                self.check_target(elt)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            raise self._mutation_error(target)
        elif not isinstance(target, ast.Name):
            raise self.ctx.error(target, "this assignment target is not supported", "assign to a name")

    def _mutation_error(self, target: ast.expr) -> Exception:
        root = target
        while isinstance(root, (ast.Subscript, ast.Attribute)):
            root = root.value
        if isinstance(root, ast.Name):
            binding = self.ctx.frame.bindings.get(root.id)
            if binding is not None and binding.kind == STATE and isinstance(target, ast.Subscript):
                return self.ctx.error(target, "state variables are set only by gens and selects",
                                      "append the value as text, or keep it in a local variable")
            if binding is None and root.id not in self.ctx.frame.local_names:
                return self.ctx.error(target, f"this mutates the global `{root.id}`; programs must not change module state",
                                      "rows run concurrently and in any order: return the value in the output dict instead")
        return self.ctx.error(target, "assigning into a container or attribute mutates it, which programs cannot do",
                              "build a new value: d = {**d, key: value}, xs = xs + [value]")

    def augmented_assign(self, st: ast.AugAssign) -> list[Item]:
        target = st.target
        if isinstance(target, ast.Subscript):
            state, kind = self.exprs.lower(target)
            if kind == STATE:
                return self._append(state, st)
            raise self._mutation_error(target)
        if isinstance(target, ast.Attribute):
            raise self._mutation_error(target)
        assert isinstance(target, ast.Name)
        current, kind = self.exprs.lower(target)
        if kind == STATE:
            return self._append(current, st)
        if K.has_state(kind):
            return self.forks.append_each(target, current, kind, st)
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}.get(type(st.op))
        if op is None:
            raise self.ctx.error(st, "this augmented operator is not supported", "use + - * / // %")
        nested = self.ctx.find_primitive(st.value)
        if nested is not None:
            raise self.ctx.error(nested, "gens can only be appended to a state",
                                 f"`{target.id}` is not a state; write s += lmc.gen(...)")
        rhs, rk = self.exprs.lower(st.value)
        if K.has_state(rk):
            raise self.ctx.error(st.value, "a state cannot be used in arithmetic")
        self.ctx.bind(target.id, K.join(kind, rk), target)
        return [Item(Assign(self.ctx.frame.bindings[target.id].ir, BinOp(op, current, rhs), self.ctx.span(st)))]

    def _append(self, state: Expr, st: ast.AugAssign) -> list[Item]:
        if not isinstance(st.op, ast.Add):
            raise self.ctx.error(st, "a state only supports +=", "append with s += ...")
        return self.appends.lower(state, st.value)
