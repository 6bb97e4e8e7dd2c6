"""One row of a plan, instantiated: ops emitted so far, generated values, and how to go on.

The executor's loop over a RowProgram:
    ops = row.start()                  # every op that is known before anything is generated
    ... run ops whose prompt is complete; when a gen/select op finishes:
    ops = row.record(op.id, text)      # may resume a dynamic region and emit more ops
    ... run each call op once its deps have values (row.call_arguments), record its result
    ... until row.finished and no gen/select/call op lacks a value; then row.outputs()
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from lmc.plan.errors import RowError
from lmc.plan.expr import (
    MISSING,
    Const,
    EvalError,
    Expr,
    Format,
    FString,
    Global,
    Ref,
    Scope,
    Subscript,
    evaluate,
    reduce,
)
from lmc.plan.instantiate.blocks import Blocks
from lmc.plan.instantiate.interpreter import Interpreter, StateHandle, parse_json
from lmc.plan.instantiate.ops import (
    PROMPT_OPS,
    VALUE_OPS,
    CallOp,
    GenOp,
    ImageOp,
    JoinOp,
    Op,
    RoleOp,
    SelectOp,
    TextOp,
    VarOp,
)
from lmc.plan.instantiate.role_texts import RoleTexts
from lmc.plan.ir import ENTRY, Graph


class RowProgram:
    """The ops of one row. States are ints (0 is `s`); op ids are ints unique in the row."""

    def __init__(self, graph: Graph, inputs: dict[str, Any], row_id: Any = None,
                 roles: RoleTexts | None = None, max_loop_iterations: int = 64,
                 gen_defaults: Mapping[str, Any] | None = None, blocks: Blocks | None = None) -> None:
        self.graph = graph
        self.blocks = blocks or Blocks(graph)  # shared by the rows of one Instantiator
        self.gen_defaults = dict(gen_defaults or {})  # run-time keywords: for what a gen leaves unsaid
        self.row_id = row_id
        self.inputs = inputs
        self.roles = roles
        self.last_role: dict[int, str | None] = {0: None}  # the role of each state's latest message
        self.max_loop_iterations = max_loop_iterations
        self.ops: list[Op] = []
        self.values: dict[int, Any] = {}  # op id -> generated text (a list for n > 1), or a host call's result
        self.variables: dict[int, dict[str, int]] = {0: {}}
        self.own: dict[int, list[Op]] = {0: []}
        self.base: dict[int, list[Op]] = {0: []}
        self.parent: dict[int, int | None] = {0: None}
        self.returned: Expr | None = None
        self.unsettled: list[VarOp] = []  # variables set from values not recorded yet
        self.waiting_for: frozenset[int] = frozenset()
        self.finished = False
        self._new: list[Op] = []
        self._started = False
        self._interpreter = Interpreter(self, {graph.entry.state: StateHandle(0), **inputs})
        self._walk = self._interpreter.block(ENTRY, "body")

    # -- used by the interpreter ---------------------------------------------------------------
    def next_id(self) -> int:
        return len(self.ops)

    def emit(self, op: Op) -> None:
        self.ops.append(op)
        self._new.append(op)
        if isinstance(op, PROMPT_OPS) or (isinstance(op, JoinOp) and op.concat):
            self.own[op.state].append(op)
        if isinstance(op, VarOp):
            self.unsettled.append(op)
            self._settle()

    def new_state(self, parent: int | None) -> int:
        """A fork of `parent` (its prompt and variables so far), or with None a state of its own."""
        state = len(self.own)
        self.own[state] = []
        self.base[state] = [] if parent is None else self.history(parent)
        self.parent[state] = parent
        self.variables[state] = {} if parent is None else dict(self.variables[parent])
        self.last_role[state] = None if parent is None else self.last_role[parent]
        return state

    def root(self, state: int) -> int:
        """The state `state` was forked from, through every fork: 0 (`s`), or a state of its own."""
        while (parent := self.parent[state]) is not None:
            state = parent
        return state

    def text_of(self, state: int) -> Expr:
        """`s.text()` of `state` now: its prompt ops so far as one text, a Const when every piece
        is known, else a residual over the values still to come (a gen's, a call's)."""
        parts = tuple(p for op in self.history(state) for p in self._pieces(op))
        return reduce(FString(parts), Scope({}, None, self.read_ref))

    def _pieces(self, op: Op) -> list[Expr]:
        if isinstance(op, TextOp):
            return [Const(op.text) if op.text is not None else Format(op.expr)]  # type: ignore[arg-type]
        if isinstance(op, GenOp):
            return [Format(Ref(op.id) if op.call.n == 1 else Subscript(Ref(op.id), Const(0)))]  # n > 1: the first
        if isinstance(op, SelectOp):
            return [Format(Ref(op.id))]
        if isinstance(op, JoinOp):  # concate_and_append: each branch's part since the fork, in order
            return [p for child in op.children for o in self.own[child] for p in self._pieces(o)]
        if isinstance(op, RoleOp):
            raise EvalError("s.text() of a state with role blocks needs the model's role texts, and this "
                            "run has none (a chat template lmc can cut into role texts)")
        assert isinstance(op, ImageOp)
        raise EvalError("s.text() of a state holding an image is not supported (an image is not text)")

    def read_ref(self, op: int, as_json: bool) -> Any:
        if op not in self.values:
            return MISSING
        return parse_json(self.values[op]) if as_json else self.values[op]

    # -- used by the executor ------------------------------------------------------------------
    def start(self) -> list[Op]:
        """Run until the end or until a dynamic region waits; the ops emitted. Called again
        before any value is recorded, it returns the same ops (a row started to compute the row
        order is then run as it is)."""
        if self._started:
            if self.values:
                raise ValueError("start() after a value was recorded")
            return list(self.ops)
        self._started = True
        return self._advance()

    def record(self, op_id: int, value: Any) -> list[Op]:
        """Store a gen/select result (text) or a call's result (any value); if the walk was
        waiting on it, resume. New ops returned."""
        op = self.ops[op_id]
        if not isinstance(op, VALUE_OPS) or isinstance(op, VarOp):
            raise ValueError(f"op {op_id} is a {type(op).__name__}, not a gen, select or call")
        self.values[op_id] = value
        self._settle()
        if self.waiting_for and self.waiting_for <= self.values.keys():
            return self._advance()
        return []

    def text(self, op: TextOp) -> str:
        """The text of a TextOp; for a residual one, evaluated now that its deps are recorded."""
        if op.text is not None:
            return op.text
        assert op.expr is not None
        value = self._guard(lambda: evaluate(op.expr, {}, None, self.read_ref), op.node)
        if not isinstance(value, str):
            raise RowError(f"appended text must be a str, got {type(value).__name__}; wrap it in str(...)",
                           self.row_id, op.node)
        return value

    def call_arguments(self, op: CallOp, read_global: Callable[[Global], Any]) -> tuple[list[Any], dict[str, Any]]:
        """A call op's arguments, now that its deps have values; `read_global` gives the Python
        object a `Global` names (only the executor can)."""
        return [self._call_value(op, a, read_global) for a in op.args], {
            k: self._call_value(op, v, read_global) for k, v in op.kwargs}

    def call_target(self, op: CallOp) -> tuple[str, int | None]:
        """The function a call op runs, (`module:qualname`, source): its own, or the entry of
        its tool table that the key's value names (an unknown key is the row's error)."""
        if op.key is None:
            return op.function, op.source
        key = self._call_value(op, op.key, None)
        for name, function, source in op.table:
            if name == key:
                return function, source
        known = ", ".join(repr(name) for name, _, _ in op.table)
        table = op.function.partition(":")[2]
        raise RowError(f"{table}[{key!r}]: the table has no key {key!r} (its keys: {known})", self.row_id, op.node)

    def _call_value(self, op: CallOp, expr: Expr, read_global: Callable[[Global], Any] | None) -> Any:
        scope = Scope({}, None, self.read_ref, read_global)
        result = self._guard(lambda: reduce(expr, scope), op.node)
        if not isinstance(result, Const):
            raise RowError(f"the arguments of {op.function} are not known yet", self.row_id, op.node)
        return result.value

    def history(self, state: int) -> list[Op]:
        """The prompt ops of `state` in order, its parents' part (up to each fork) included."""
        return self.base[state] + self.own[state]

    def pending(self) -> list[Op]:
        """Gen/select/call ops emitted whose values are not recorded yet."""
        return [op for op in self.ops if isinstance(op, VALUE_OPS) and op.id not in self.values]

    @property
    def done(self) -> bool:
        return self.finished and not self.pending()

    def outputs(self) -> dict[str, Any]:
        """The row's output: a returned dict; else every named variable, and any other returned
        value under "ret_value" (where SGLang's `state.ret_value` holds it)."""
        if not self.done:
            raise RowError("the row has not finished", self.row_id)
        if self.returned is None:
            return variables_output(self)
        returned = self.returned
        value = json.loads(json.dumps(self._guard(lambda: evaluate(returned, {}, None, self.read_ref), None),
                                      default=str))
        return value if isinstance(value, dict) else {**variables_output(self), "ret_value": value}

    # -- internals -----------------------------------------------------------------------------
    def _settle(self) -> None:
        """Compute, in op order, each variable whose values are all recorded (a VarOp reads only
        earlier ops, so one pass settles chains of them)."""
        for op in list(self.unsettled):
            if all(d in self.values for d in op.deps):
                self.values[op.id] = self._guard(lambda expr=op.expr: evaluate(expr, {}, None, self.read_ref), op.node)
                self.unsettled.remove(op)

    def _advance(self) -> list[Op]:
        self._new = []
        self.waiting_for = frozenset()
        while not self.finished:
            try:
                needed = next(self._walk)
            except StopIteration:
                self.finished = True
                break
            except EvalError as exc:
                raise RowError(str(exc), self.row_id, self._interpreter.node_id) from None
            if not needed <= self.values.keys():
                self.waiting_for = needed
                break
        return self._new

    def _guard(self, fn: Any, node: str | None) -> Any:
        try:
            return fn()
        except EvalError as exc:
            raise RowError(str(exc), self.row_id, node) from None


def variables_output(row: RowProgram, values: Mapping[int, Any] | None = None) -> dict[str, Any]:
    """Names stored on `s` map to their last value; names stored only on forks map to the list
    of each fork's last value, in fork order. A state of its own (a sub-program called without a
    state) and its forks are not `s`'s, as in SGLang. `values` (by op id) default to the row's."""
    values = row.values if values is None else values
    last: dict[tuple[str, int], int] = {}
    for op in row.ops:
        if isinstance(op, (GenOp, SelectOp, VarOp)) and row.root(op.state) == 0:
            last[(op.name, op.state)] = op.id
    names = sorted({name for name, _ in last}, key=lambda n: min(i for (m, _), i in last.items() if m == n))
    out: dict[str, Any] = {}
    for name in names:
        if (name, 0) in last:
            out[name] = values.get(last[(name, 0)])
        else:
            states = sorted(s for (m, s) in last if m == name)
            out[name] = [values.get(last[(name, s)]) for s in states]
    return out


__all__ = ["RowProgram", "variables_output"]
