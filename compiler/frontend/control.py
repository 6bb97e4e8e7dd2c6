"""Loops and branches: parametric when their test depends on inputs and constants, Dynamic when
it depends on a generated value (or a loop may `break` on one). Kinds of loop-carried locals are
computed to a fixpoint, so a local that becomes generated in a later iteration is never treated
as known."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import Context, Item
from lmc.compiler.frontend.forks import is_fork_syntax
from lmc.compiler.frontend.kinds import Kind
from lmc.plan.expr import Expr, Pattern
from lmc.plan.ir import Branch, Break, Continue, Dynamic, Loop

if TYPE_CHECKING:
    from lmc.compiler.frontend.statements import StatementLowerer

T = TypeVar("T")


class ControlLowerer:
    """`for`, `while` and `if`; their bodies go back through the statement lowerer."""

    def __init__(self, ctx: Context, statements: StatementLowerer) -> None:
        self.ctx = ctx
        self.statements = statements
        self.exprs = statements.exprs

    def _fixpoint(self, lower: Callable[[], T]) -> T:
        """Lower a loop until the kinds of the locals it carries (and whether a list is still
        the program's own) stop changing."""
        for _ in range(5):
            before = {k: (b.kind, b.fresh) for k, b in self.ctx.frame.bindings.items()}
            counts = dict(self.ctx.inline_counts)
            result = lower()
            after = self.ctx.frame.bindings
            if all((after[k].kind, after[k].fresh) == seen for k, seen in before.items()):
                break
            self.ctx.inline_counts = counts
        return result

    def _loop_names(self, stmts: list[ast.stmt]) -> set[str]:
        names = set()
        for st in stmts:
            for node in ast.walk(st):
                var_scope = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "var_scope"
                if var_scope or (isinstance(node, ast.Call) and self.ctx.primitive_of(node) in ("gen", "gen_int", "gen_string", "select")):
                    arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        names.add(arg.value)
        return names

    def _dynamic_exits(self, items: list[Item], deps: frozenset[str] | None) -> frozenset[str] | None:
        """Gen names a break/continue in this loop body depends on (None: no dynamic exit)."""
        found: frozenset[str] | None = None
        for item in items:
            node = item.node
            sub: frozenset[str] | None = None
            if isinstance(node, (Break, Continue)):
                sub = deps
            elif isinstance(node, Branch):
                sub = self._merge_deps(*(self._dynamic_exits(arm, deps) for arm in item.arms.values()))
            elif isinstance(node, Dynamic) and node.construct == "if":
                inner = (deps or frozenset()) | frozenset(node.deps)
                sub = self._merge_deps(*(self._dynamic_exits(arm, inner) for arm in item.arms.values()))
            found = self._merge_deps(found, sub)
        return found

    @staticmethod
    def _merge_deps(*parts: frozenset[str] | None) -> frozenset[str] | None:
        present = [p for p in parts if p is not None]
        return frozenset().union(*present) if present else None

    def for_loop(self, st: ast.For) -> list[Item]:
        if st.orelse:
            raise self.ctx.error(st, "for-else is not supported", "use a flag variable or a break-free loop")
        self.statements.check_target(st.target)
        forked, iter_node = self._forked_iter(st)
        iterable, kind = self.exprs.folded(iter_node)
        elem = K.element(kind)
        if elem is None:
            raise self.ctx.error(st.iter, "a state cannot be iterated", "fork it: for f in s.fork(n)")

        def body() -> tuple[Pattern, list[Item]]:
            with self.ctx.branching():
                pattern = self.ctx.bind_target(st.target, elem)
                return pattern, self.statements.lower_block(st.body)

        self.ctx.loop_names.append(self._loop_names(st.body))
        try:
            pattern, items = self._fixpoint(body)
        finally:
            self.ctx.loop_names.pop()
        deps = K.gen_deps(kind)
        exits = self._dynamic_exits(items, None)
        if deps is None and exits is None:
            return [*forked, Item(Loop(pattern, iterable, self.ctx.span(st)), {"body": items})]
        all_deps = tuple(sorted((deps or frozenset()) | (exits or frozenset())))
        return [*forked, Item(Dynamic("for", iterable, pattern, all_deps, self.ctx.span(st)), {"body": items})]

    def _forked_iter(self, st: ast.For) -> tuple[list[Item], ast.expr]:
        """`for f in s.fork(n):` forks into a hidden local first, then iterates it."""
        if not is_fork_syntax(st.iter):
            return [], st.iter
        hidden = f"fork#{st.lineno}.{st.col_offset}"
        forked = self.statements.forks.assign(ast.copy_location(ast.Name(hidden, ast.Store()), st.iter), st.iter, st)
        if forked is None:
            return [], st.iter
        return forked, ast.copy_location(ast.Name(hidden, ast.Load()), st.iter)

    def while_loop(self, st: ast.While) -> list[Item]:
        if st.orelse:
            raise self.ctx.error(st, "while-else is not supported", "use a flag variable")

        def body() -> tuple[Expr, Kind, list[Item]]:
            with self.ctx.deferring("in a while condition (tested again after every iteration)"):
                test, kind = self.exprs.folded(st.test)
            with self.ctx.branching():
                return test, kind, self.statements.lower_block(st.body)

        self.ctx.loop_names.append(self._loop_names(st.body))
        try:
            test, kind, items = self._fixpoint(body)
        finally:
            self.ctx.loop_names.pop()
        deps = K.gen_deps(kind)
        exits = self._dynamic_exits(items, None)
        if deps is None and exits is None:
            raise self.ctx.error(st, "a `while` loop over values known before the run cannot be analysed",
                                 "write `for _ in range(n)`; `while` is for loops that stop on a generated value")
        all_deps = tuple(sorted((deps or frozenset()) | (exits or frozenset())))
        return [Item(Dynamic("while", test, None, all_deps, self.ctx.span(st)), {"body": items})]

    def branch(self, st: ast.If) -> list[Item]:
        test, kind = self.exprs.folded(st.test)
        if K.has_state(kind):
            raise self.ctx.error(st.test, "a state is always true; test one of its variables", "if s['name'] == ...:")
        with self.ctx.branching():
            arms = {"then": self.statements.lower_block(st.body), "else": self.statements.lower_block(st.orelse)}
        deps = K.gen_deps(kind)
        if deps is None:
            return [Item(Branch(test, self.ctx.span(st)), arms)]
        return [Item(Dynamic("if", test, None, tuple(sorted(deps)), self.ctx.span(st)), arms)]
