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
from lmc.plan.expr import MISSING, Const, EvalError, Expr, Global, Scope, evaluate, reduce
from lmc.plan.instantiate.blocks import Blocks
from lmc.plan.instantiate.interpreter import Interpreter, StateHandle, parse_json
from lmc.plan.instantiate.ops import (
    PROMPT_OPS,
    VALUE_OPS,
    CallOp,
    GenOp,
    JoinOp,
    Op,
    SelectOp,
    TextOp,
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

    def new_state(self, parent: int) -> int:
        state = len(self.own)
        self.own[state] = []
        self.base[state] = self.history(parent)
        self.parent[state] = parent
        self.variables[state] = dict(self.variables[parent])
        self.last_role[state] = self.last_role[parent]
        return state

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
        if not isinstance(op, VALUE_OPS):
            raise ValueError(f"op {op_id} is a {type(op).__name__}, not a gen, select or call")
        self.values[op_id] = value
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
        scope = Scope({}, None, self.read_ref, read_global)

        def value(expr: Expr) -> Any:
            result = self._guard(lambda: reduce(expr, scope), op.node)
            if not isinstance(result, Const):
                raise RowError(f"the arguments of {op.function} are not known yet", self.row_id, op.node)
            return result.value

        return [value(a) for a in op.args], {k: value(v) for k, v in op.kwargs}

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
    of each fork's last value, in fork order. `values` (by op id) default to the row's own."""
    values = row.values if values is None else values
    last: dict[tuple[str, int], int] = {}
    for op in row.ops:
        if isinstance(op, (GenOp, SelectOp)):
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
