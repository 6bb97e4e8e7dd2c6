"""SGLang's fork list: `forks = s.fork(n)` (also `s.fork(1)[0]`), `forks += ...` on every
branch, and `forks.join()`."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import Context, Item
from lmc.compiler.frontend.kinds import STATE, Kind
from lmc.plan.expr import Call, Const, Expr, Name, Subscript
from lmc.plan.ir import Assign, Fork, Join, Loop, Text

if TYPE_CHECKING:
    from lmc.compiler.frontend.statements import StatementLowerer

FORK_ARGS = ("size", "position_ids_offset")  # SGLang's s.fork signature


def is_fork_syntax(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "fork"


class ForkLowerer:
    """Forks and the statements on a list of forks; appends go through the append lowerer."""

    def __init__(self, ctx: Context, statements: StatementLowerer) -> None:
        self.ctx = ctx
        self.exprs = statements.exprs
        self.appends = statements.appends

    def fork_call(self, value: ast.expr) -> tuple[Expr, ast.Call] | None:
        """(the parent state, the call) if `value` is `state.fork(...)`."""
        if not is_fork_syntax(value):
            return None
        assert isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
        state, kind = self.exprs.lower(value.func.value)
        return (state, value) if kind == STATE else None

    def assign(self, target: ast.expr, value: ast.expr, st: ast.stmt) -> list[Item] | None:
        """`target = s.fork(...)` or `target = s.fork(...)[i]`; None if `value` is neither."""
        fork = self.fork_call(value)
        if fork is not None:
            return [self._fork(target, *fork, st)]
        if not isinstance(value, ast.Subscript) or (fork := self.fork_call(value.value)) is None:
            return None
        if not isinstance(target, ast.Name):
            raise self.ctx.error(target, "assign one branch of s.fork(n)[i] to a single name")
        hidden = ast.copy_location(ast.Name(f"{target.id}#forks", ast.Store()), value.value)
        item = self._fork(hidden, *fork, st)
        branch, kind = self.exprs.lower(ast.copy_location(ast.Subscript(ast.Name(hidden.id, ast.Load()), value.slice, ast.Load()), value))
        return [item, Item(Assign(self.ctx.bind_target(target, kind), branch, self.ctx.span(st)))]

    def _fork(self, target: ast.expr, state: Expr, call: ast.Call, st: ast.stmt) -> Item:
        """`position_ids_offset=` is accepted and has no effect, as in SGLang's interpreter
        (its StreamExecutor.fork never reads it)."""
        if len(call.args) > 1 or any(kw.arg not in FORK_ARGS for kw in call.keywords):
            raise self.ctx.error(call, "s.fork(n) takes the number of branches",
                                 "and optionally position_ids_offset=, which lmc ignores as SGLang does")
        given = dict(zip(FORK_ARGS, call.args)) | {kw.arg: kw.value for kw in call.keywords if kw.arg}
        if "position_ids_offset" in given:
            _, offset_kind = self.exprs.lower(given["position_ids_offset"])
            if K.has_state(offset_kind):
                raise self.ctx.error(given["position_ids_offset"], "position_ids_offset= takes a list of ints")
        size = given.get("size")
        n, kind = self.exprs.folded(size) if size is not None else (Const(1), K.PARAM)  # SGLang's default
        where = size if size is not None else call
        if K.is_gen(kind) or K.has_state(kind):
            raise self.ctx.error(where, "the number of branches must be known before the run",
                                 "fork a fixed or input-dependent number, e.g. s.fork(len(options))")
        if isinstance(n, Const) and (not isinstance(n.value, int) or isinstance(n.value, bool) or n.value < 1):
            raise self.ctx.error(where, f"s.fork(n) needs an int n >= 1, got {n.value!r}")
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(n, Const) and n.value != len(target.elts):
                raise self.ctx.error(target, f"{len(target.elts)} names for {n.value} branches")
            pattern = self.ctx.bind_target(target, K.tuple_of(*[STATE] * len(target.elts)))
        else:
            pattern = self.ctx.bind_target(target, K.list_of(STATE))
        return Item(Fork(state, (pattern,), (n,), span=self.ctx.span(st)))

    def append_each(self, target: ast.Name, forks: Expr, kind: Kind, st: ast.AugAssign) -> list[Item]:
        """`forks += x` appends x to every branch (SGLang's fork list); `forks += lambda i: ...`
        appends what the lambda gives for branch i, `forks += [a, b]` item i to branch i.
        Lowered to a loop over the branches."""
        elem = K.element(kind)
        if not isinstance(st.op, ast.Add) or elem != STATE:
            raise self.ctx.error(st, "a list of forks only supports +=",
                                 "write forks += \"text\", forks += lmc.gen(...) or forks += lambda i: ...")
        branch = self.ctx.bind(f"{target.id}#each", STATE, target)
        rhs = st.value
        span = self.ctx.span(st)
        if isinstance(rhs, ast.Lambda):
            params = rhs.args
            if len(params.args) != 1 or params.posonlyargs or params.kwonlyargs or params.vararg or params.kwarg:
                raise self.ctx.error(rhs, "forks += lambda takes one argument, the branch index: lambda i: ...")
            index = self.ctx.bind(params.args[0].arg, K.PARAM, rhs)
            loop = Loop((index, branch), Call("enumerate", (forks,), ()), span)
            return [Item(loop, {"body": self.ctx.with_calls(lambda: self.appends.lower(Name(branch), rhs.body))})]
        if not self.ctx.find_primitive(rhs):
            items, items_kind = self.exprs.folded(rhs)
            if items_kind.tag == "list" or (isinstance(items, Const) and isinstance(items.value, list)):
                index = self.ctx.bind(f"{target.id}#index", K.PARAM, target)
                loop = Loop((index, branch), Call("enumerate", (forks,), ()), span)
                text = Text(Name(branch), Subscript(items, Name(index)), span=self.ctx.span(rhs))
                return [Item(loop, {"body": [Item(text)]})]
        return [Item(Loop(branch, forks, span), {"body": self.appends.lower(Name(branch), rhs)})]

    def join(self, call: ast.Call) -> list[Item]:
        """`forks.join()`: SGLang's default mode gathers the branches' variables, which reading
        `forks[i][name]` already does (an implicit join), so it adds no node; mode
        "concate_and_append" is a Join node on the fork list (the interpreter finds its parent)."""
        if call.args or any(kw.arg != "mode" for kw in call.keywords):
            raise self.ctx.error(call, "forks.join() takes only mode=",
                                 "write forks.join(): the branches' variables are then read as forks[i][\"name\"]")
        mode = next((kw.value for kw in call.keywords), None)
        if mode is None or (isinstance(mode, ast.Constant) and mode.value == "gather_variable"):
            return []
        if isinstance(mode, ast.Constant) and mode.value == "concate_and_append":
            forks, _ = self.exprs.lower(call.func.value)  # the join names the forks' parent itself
            return [Item(Join(forks, forks, self.ctx.span(call), mode="concate_and_append"))]
        raise self.ctx.error(mode, f"unknown join mode {ast.unparse(mode)}",
                             "SGLang's modes are \"gather_variable\" (the default) and \"concate_and_append\"")
