"""Loops and branches: parametric when their test depends on inputs and constants, Dynamic when
it depends on a generated value (or a loop may `break` on one). Kinds of loop-carried locals are
computed to a fixpoint, so a local that becomes generated in a later iteration is never treated
as known."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TypeVar

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import Item
from lmc.compiler.frontend.kinds import Kind
from lmc.compiler.frontend.statements import StatementLowering
from lmc.plan.expr import Expr, Pattern
from lmc.plan.ir import Branch, Break, Continue, Dynamic, Loop

T = TypeVar("T")


class ControlLowering(StatementLowering):
    # -- control flow --------------------------------------------------------------------------
    def _fixpoint(self, lower: Callable[[], T]) -> T:
        """Lower a loop until the kinds of the locals it carries stop changing."""
        for _ in range(5):
            before = {k: b.kind for k, b in self.frame.bindings.items()}
            counts = dict(self.session.inline_counts)
            result = lower()
            if all(self.frame.bindings[k].kind == kind for k, kind in before.items()):
                break
            self.session.inline_counts = counts
        return result

    def _loop_names(self, stmts: list[ast.stmt]) -> set[str]:
        names = set()
        for st in stmts:
            for node in ast.walk(st):
                if isinstance(node, ast.Call) and self.primitive_of(node) in ("gen", "gen_int", "gen_string", "select"):
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

    def _stmt_For(self, st: ast.For) -> list[Item]:
        if st.orelse:
            raise self.error(st, "for-else is not supported", "use a flag variable or a break-free loop")
        self._check_target(st.target)
        iterable, kind = self.folded(st.iter)
        elem = K.element(kind)
        if elem is None:
            raise self.error(st.iter, "a state cannot be iterated", "fork it: for f in s.fork(n)")

        def body() -> tuple[Pattern, list[Item]]:
            pattern = self.bind_target(st.target, elem)
            return pattern, self.lower_block(st.body)

        self.session.loop_names.append(self._loop_names(st.body))
        try:
            pattern, items = self._fixpoint(body)
        finally:
            self.session.loop_names.pop()
        deps = K.gen_deps(kind)
        exits = self._dynamic_exits(items, None)
        if deps is None and exits is None:
            return [Item(Loop(pattern, iterable, self.span(st)), {"body": items})]
        all_deps = tuple(sorted((deps or frozenset()) | (exits or frozenset())))
        return [Item(Dynamic("for", iterable, pattern, all_deps, self.span(st)), {"body": items})]

    def _stmt_While(self, st: ast.While) -> list[Item]:
        if st.orelse:
            raise self.error(st, "while-else is not supported", "use a flag variable")

        def body() -> tuple[Expr, Kind, list[Item]]:
            test, kind = self.folded(st.test)
            return test, kind, self.lower_block(st.body)

        self.session.loop_names.append(self._loop_names(st.body))
        try:
            test, kind, items = self._fixpoint(body)
        finally:
            self.session.loop_names.pop()
        deps = K.gen_deps(kind)
        exits = self._dynamic_exits(items, None)
        if deps is None and exits is None:
            raise self.error(st, "a `while` loop over values known before the run cannot be analysed",
                             "write `for _ in range(n)`; `while` is for loops that stop on a generated value")
        all_deps = tuple(sorted((deps or frozenset()) | (exits or frozenset())))
        return [Item(Dynamic("while", test, None, all_deps, self.span(st)), {"body": items})]

    def _stmt_If(self, st: ast.If) -> list[Item]:
        test, kind = self.folded(st.test)
        if K.has_state(kind):
            raise self.error(st.test, "a state is always true; test one of its variables", "if s['name'] == ...:")
        arms = {"then": self.lower_block(st.body), "else": self.lower_block(st.orelse)}
        deps = K.gen_deps(kind)
        if deps is None:
            return [Item(Branch(test, self.span(st)), arms)]
        return [Item(Dynamic("if", test, None, tuple(sorted(deps)), self.span(st)), arms)]
