"""Row ops: the concrete steps of one row, in program order, as the executor consumes them.

States are small ints (0 is the program's `s`; forks create new ones, and a StateOp one with no
parent). A state's prompt is the concatenation, in order, of the Text/Role/Gen/Select ops on it,
preceded by its parent's prompt at the moment of the fork (`RowProgram.history`). Op ids are ints, unique within the row.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmc.plan.expr import Expr
from lmc.plan.language import GenCall


@dataclass(frozen=True)
class TextOp:
    """Append text. `text` is None while it waits on generated values: then `expr` is the
    residual and `deps` the op ids it needs; `RowProgram.text(op)` gives the string once they
    are recorded. `prefix` names the hoisted Prefix node the text belongs to (shared by all rows
    or by all branches of a fork); `prefetch`: this state's prompt up to here may be prefilled
    before its pending data dependences resolve. `role` is set on rendered role-marker text."""

    id: int
    state: int
    node: str
    text: str | None
    expr: Expr | None = None
    deps: tuple[int, ...] = ()
    prefix: str | None = None
    prefetch: bool = False
    role: str | None = None


@dataclass(frozen=True)
class RoleOp:
    """A role boundary, when no role texts were given to render it (`begin` or end)."""

    id: int
    state: int
    node: str
    role: str
    begin: bool
    prefix: str | None = None


@dataclass(frozen=True)
class GenOp:
    """Generate on `state` with `call`'s sampling and constraint; the value is stored as `name`.
    `constraint` is the key of the plan's precompiled constraint table (None: compile at run)."""

    id: int
    state: int
    node: str
    name: str
    call: GenCall
    constraint: str | None = None


@dataclass(frozen=True)
class SelectOp:
    """Score every choice after `state`'s prompt and keep one: `method` (a lmc.plan.choices
    name) scores them, temperature 0 keeps the best."""

    id: int
    state: int
    node: str
    name: str
    choices: tuple[str, ...]
    choice_prefix: str | None = None
    temperature: float = 0.0
    method: str = "token_length_normalized"


@dataclass(frozen=True)
class ImageOp:
    """An image in `state`'s prompt (`lmc.image(path)`), or a video of `frames` frames
    (`lmc.video`); only a vision (video) model can run it."""

    id: int
    state: int
    node: str
    path: str
    frames: int | None = None


@dataclass(frozen=True)
class CallOp:
    """Call the host function `function` (`module:qualname`, `source` as on the HostCall node)
    once the ops `deps` have values; `args`/`kwargs` are residuals whose only unknowns are those
    values (`RowProgram.call_arguments`). The result is the op's value, read through `Ref(id)`
    like a generated one. It belongs to no state: it adds nothing to any prompt. With a tool
    `table` (as on the node), the residual `key` picks the function (`RowProgram.call_target`)."""

    id: int
    node: str
    function: str
    source: int | None
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    deps: tuple[int, ...] = ()
    table: tuple[tuple[str, str, int | None], ...] = ()
    key: Expr | None = None


@dataclass(frozen=True)
class VarOp:
    """A variable of `state` set from an expression (SGLang's var_scope): `expr` is a residual
    whose only unknowns are the values of `deps`. The row computes its value itself, as soon as
    they are recorded; it adds nothing to any prompt."""

    id: int
    state: int
    node: str
    name: str
    expr: Expr
    deps: tuple[int, ...] = ()


@dataclass(frozen=True)
class StateOp:
    """`state` starts here with an empty prompt of its own (no parent, nothing shared)."""

    id: int
    state: int
    node: str


@dataclass(frozen=True)
class ForkOp:
    """`children` start as copies of `state`'s prompt and variables at this point."""

    id: int
    state: int
    node: str
    children: tuple[int, ...]
    group: str | None = None


@dataclass(frozen=True)
class JoinOp:
    """`concat`: SGLang's join(mode="concate_and_append"): `state` goes on with every child's
    prompt since the fork appended in order (a prompt op of `state`); otherwise informational."""

    id: int
    state: int
    node: str
    children: tuple[int, ...]
    concat: bool = False


Op = TextOp | RoleOp | GenOp | SelectOp | ImageOp | CallOp | VarOp | StateOp | ForkOp | JoinOp
PROMPT_OPS = (TextOp, RoleOp, GenOp, SelectOp, ImageOp)
VALUE_OPS = (GenOp, SelectOp, CallOp, VarOp)  # ops whose value the row records (a VarOp's it computes)
