"""Per-row instantiation of a plan: the API the executor builds on.

    inst = Instantiator(plan, roles={"user": ("<|user|>\\n", "\\n"), ...})   # once per plan
    row = inst.row({"question": ..., "answer": ...}, row_id=7)               # once per row
    ops = row.start()

`Instantiator` checks the plan's sources when it has dynamic regions or host calls (a stale plan
is refused),
binds and type-checks inputs against the program's parameters (a bad row raises RowError naming
the row), and returns a `RowProgram` (see row_program.py for the executor's loop and ops.py for
the ops). Nothing here tokenizes: role texts come in as strings, prompts go out as ops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lmc.plan.errors import RowError
from lmc.plan.instantiate.blocks import Blocks
from lmc.plan.instantiate.interpreter import StateHandle
from lmc.plan.instantiate.messages import messages
from lmc.plan.instantiate.ops import (
    PROMPT_OPS,
    VALUE_OPS,
    CallOp,
    ForkOp,
    GenOp,
    ImageOp,
    JoinOp,
    Op,
    RoleOp,
    SelectOp,
    StateOp,
    TextOp,
    VarOp,
)
from lmc.plan.instantiate.role_texts import RoleTexts
from lmc.plan.instantiate.row_program import RowProgram
from lmc.plan.ir import Graph, Param

if TYPE_CHECKING:
    from lmc.plan.file import Plan

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
    "dict": (dict,),
}


class Instantiator:
    """Turns rows into RowPrograms for one plan (or a bare graph, in tests and passes)."""

    def __init__(self, plan: Plan | Graph, roles: RoleTexts | Mapping[str, tuple[str, str]] | None = None,
                 max_loop_iterations: int | None = None, gen_defaults: Mapping[str, Any] | None = None) -> None:
        if isinstance(plan, Graph):
            self.graph = plan
            limit = 64
        else:
            self.graph = plan.graph
            limit = plan.options.max_loop_iterations
            if plan.needs_sources:
                plan.check_sources()
        self.roles = None if roles is None else RoleTexts.of(roles)
        self.max_loop_iterations = max_loop_iterations or limit
        self.params = self.graph.entry.params
        self.gen_defaults = dict(gen_defaults or {})
        self.blocks = Blocks(self.graph)

    def bind(self, row: Mapping[str, Any], row_id: Any = None) -> dict[str, Any]:
        """The program's inputs from a row: every parameter by name, defaults filled in, simple
        annotations (str, int, float, bool, list, dict) checked; other fields are ignored."""
        if not isinstance(row, Mapping):
            raise RowError(f"a row must be a JSON object, got {type(row).__name__}", row_id)
        inputs = {}
        for p in self.params:
            if p.name not in row:
                if p.required:
                    names = ", ".join(q.name for q in self.params)
                    raise RowError(f"missing field {p.name!r} (the program's inputs are: {names})", row_id)
                inputs[p.name] = p.default
                continue
            inputs[p.name] = row[p.name]
            _check_type(p, row[p.name], row_id)
        return inputs

    def row(self, row: Mapping[str, Any], row_id: Any = None) -> RowProgram:
        return RowProgram(self.graph, self.bind(row, row_id), row_id, self.roles, self.max_loop_iterations,
                          self.gen_defaults, self.blocks)


def _check_type(param: Param, value: Any, row_id: Any) -> None:
    if param.annotation is None:
        return
    outer = param.annotation.split("[", 1)[0].strip()
    expected = _TYPES.get(outer)
    if expected is None:
        return
    if isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected):
        return
    raise RowError(f"field {param.name!r} should be {param.annotation}, got {type(value).__name__} {value!r:.60}", row_id)


def instantiate(plan: Plan | Graph, row: Mapping[str, Any], roles: RoleTexts | None = None,
                row_id: Any = None) -> RowProgram:
    """One row, started: `row.ops` holds every op known before anything is generated."""
    program = Instantiator(plan, roles).row(row, row_id)
    program.start()
    return program


__all__ = [
    "PROMPT_OPS", "VALUE_OPS", "CallOp", "ForkOp", "GenOp", "ImageOp", "Instantiator", "JoinOp", "Op", "RoleOp",
    "RoleTexts", "RowProgram", "SelectOp", "StateHandle", "StateOp", "TextOp", "VarOp", "instantiate", "messages",
]
