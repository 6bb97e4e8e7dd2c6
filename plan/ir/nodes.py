"""IR nodes: one frozen dataclass per kind of statement a program can make.

Every expression inside a node is a plan expression (`lmc.plan.expr`), so a node is data, not
code. A node that acts on a state names it with an expression (`s`, `f`, `forks[0]`) resolved per
row. Structured nodes (Loop, Branch, Dynamic, Entry) own *arms*: blocks of nodes in program order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from lmc.plan.expr import Const, Expr, Format, FString, Pattern, Var, text_reads, unparse, var_reads
from lmc.plan.expr.nodes import EXPR_TYPES


@dataclass(frozen=True)
class Span:
    """Where a node came from: `source` indexes `Graph.sources`; lines 1-based, cols 0-based."""

    source: int
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str | None = None
    default: Any = None
    required: bool = True


@dataclass(frozen=True)
class Entry:
    """The program itself; its `body` arm is the top-level block."""

    kind: ClassVar[str] = "entry"
    arms: ClassVar[tuple[str, ...]] = ("body",)
    name: str
    state: str  # the name of the state parameter (usually `s`)
    params: tuple[Param, ...]
    returns: bool = False
    span: Span | None = None


@dataclass(frozen=True)
class Assign:
    """Bind a local: `target = value` (values waiting on a gen stay residual per row)."""

    kind: ClassVar[str] = "assign"
    arms: ClassVar[tuple[str, ...]] = ()
    target: Pattern
    value: Expr
    span: Span | None = None


@dataclass(frozen=True)
class Text:
    """Append text to a state. `prefetch`: its KV may be computed before a pending data dependence
    of the state resolves (set by the prefetch_kv pass)."""

    kind: ClassVar[str] = "text"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    value: Expr
    prefetch: bool = False
    span: Span | None = None


@dataclass(frozen=True)
class RoleBegin:
    """Open a chat role: rendered with the model's template text before the content."""

    kind: ClassVar[str] = "role_begin"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    role: str
    span: Span | None = None


@dataclass(frozen=True)
class RoleEnd:
    kind: ClassVar[str] = "role_end"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    role: str
    span: Span | None = None


@dataclass(frozen=True)
class Gen:
    """`lmc.gen(name, **args)` appended to a state. `constraint` is a key of the plan's
    constraint table once precompile_constraints ran."""

    kind: ClassVar[str] = "gen"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    name: Expr
    args: tuple[tuple[str, Expr], ...] = ()
    constraint: str | None = None
    span: Span | None = None


@dataclass(frozen=True)
class Select:
    """`lmc.select(name, choices, **args)` (args: temperature, choices_method). `choice_prefix`:
    text every constant choice starts with."""

    kind: ClassVar[str] = "select"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    name: Expr
    choices: Expr
    choice_prefix: str | None = None
    args: tuple[tuple[str, Expr], ...] = ()
    span: Span | None = None


@dataclass(frozen=True)
class Image:
    """`lmc.image(path)`, or with `frames` `lmc.video(path, num_frames)`, appended to a state
    (compiled; running it needs a vision or video model)."""

    kind: ClassVar[str] = "image"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    path: Expr
    span: Span | None = None
    frames: Expr | None = None


@dataclass(frozen=True)
class HostCall:
    """`target = function(*positional, **keywords)`: a call to a Python function that does not
    receive the state (torch.fx's `call_function`). `function` is `module:qualname`; `source`
    indexes `Graph.sources` when the module is a compiled program file (loaded from that path,
    whose sha256 the plan records), else None (imported by name). The executor runs it once its
    arguments exist: at row start when they depend on inputs and constants, later when they
    depend on generated values. `target` is None when the result is not kept.

    A tool table (`TOOLS[action](arg)`, `TOOLS` a module-level dict of functions): `function`
    names the dict, `table` holds its (key, `module:qualname`, source) entries and `key` is the
    expression that picks one per row (generated, often)."""

    kind: ClassVar[str] = "call"
    arms: ClassVar[tuple[str, ...]] = ()
    target: Pattern | None
    function: str
    source: int | None = None
    positional: tuple[Expr, ...] = ()
    keywords: tuple[tuple[str, Expr], ...] = ()
    span: Span | None = None
    table: tuple[tuple[str, str, int | None], ...] = ()
    key: Expr | None = None


@dataclass(frozen=True)
class SetVar:
    """Store `value` as the variable `name` of `state`, read back as `state[name]` and output like
    a gen's value: SGLang's `with s.var_scope(name):`, whose value is the text appended inside
    the block (`value` slices the state's text after the block by its length before)."""

    kind: ClassVar[str] = "set_var"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    name: Expr
    value: Expr
    span: Span | None = None


@dataclass(frozen=True)
class NewState:
    """`target` = a new state with an empty prompt and no variables, independent of every other
    (SGLang runs a program called without a state, `expand(tip=...)`, on one of its own)."""

    kind: ClassVar[str] = "new_state"
    arms: ClassVar[tuple[str, ...]] = ()
    target: Pattern
    span: Span | None = None


@dataclass(frozen=True)
class Fork:
    """`targets[i] = state.fork(sizes[i])`: children that share the state's prompt so far.
    Several targets means merged sibling forks (one fork op). `group` names the batch group."""

    kind: ClassVar[str] = "fork"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    targets: tuple[Pattern, ...]
    sizes: tuple[Expr, ...]
    group: str | None = None
    span: Span | None = None


@dataclass(frozen=True)
class Join:
    """`state.join(forks)`. The default mode ("gather_variable") is informational: reading a
    branch variable already waits for it. "concate_and_append" appends every branch's text since
    the fork to `state`, in branch order, reusing the branches' KV (see runtime/README.md)."""

    kind: ClassVar[str] = "join"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    forks: Expr
    span: Span | None = None
    mode: str = "gather_variable"


@dataclass(frozen=True)
class Loop:
    """`for target in iter` over a value known at instantiation (inputs, constants, forks)."""

    kind: ClassVar[str] = "loop"
    arms: ClassVar[tuple[str, ...]] = ("body",)
    target: Pattern
    iter: Expr
    span: Span | None = None


@dataclass(frozen=True)
class Branch:
    """`if test` over a value known at instantiation."""

    kind: ClassVar[str] = "branch"
    arms: ClassVar[tuple[str, ...]] = ("then", "else")
    test: Expr
    span: Span | None = None


@dataclass(frozen=True)
class Dynamic:
    """Control flow over generated values (`if`, `for`, `while`, or a loop that breaks on one):
    the executor expands it when `deps` exist. `test` is the condition or the iterable."""

    kind: ClassVar[str] = "dynamic"
    construct: str  # if | for | while
    test: Expr
    target: Pattern | None = None
    deps: tuple[str, ...] = ()
    span: Span | None = None

    @property
    def arms(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("then", "else") if self.construct == "if" else ("body",)


@dataclass(frozen=True)
class Break:
    kind: ClassVar[str] = "break"
    arms: ClassVar[tuple[str, ...]] = ()
    span: Span | None = None


@dataclass(frozen=True)
class Continue:
    kind: ClassVar[str] = "continue"
    arms: ClassVar[tuple[str, ...]] = ()
    span: Span | None = None


@dataclass(frozen=True)
class Return:
    """The row's output when a dict; any other value is output as "ret_value" beside the named
    variables, which are the output without a return."""

    kind: ClassVar[str] = "return"
    arms: ClassVar[tuple[str, ...]] = ()
    value: Expr
    span: Span | None = None


Piece = Text | RoleBegin | RoleEnd


@dataclass(frozen=True)
class Prefix:
    """Prompt pieces that are identical for every row (`scope="rows"`) or for every branch of
    the fork `fork` (`scope="forks"`): computed once and pinned while dependants run."""

    kind: ClassVar[str] = "prefix"
    arms: ClassVar[tuple[str, ...]] = ()
    state: Expr
    scope: str  # rows | forks
    pieces: tuple[Piece, ...]
    fork: str | None = None
    span: Span | None = None


Node = (
    Entry | Assign | Text | RoleBegin | RoleEnd | Gen | Select | Image | HostCall | SetVar | NewState | Fork
    | Join | Loop | Branch | Dynamic | Break | Continue | Return | Prefix
)
NODE_TYPES: tuple[type, ...] = (
    Entry, Assign, Text, RoleBegin, RoleEnd, Gen, Select, Image, HostCall, SetVar, NewState, Fork, Join, Loop,
    Branch, Dynamic, Break, Continue, Return, Prefix,
)


def node_exprs(node: Node) -> list[Expr]:
    """Every expression a node holds (prefix pieces included), for analyses and data edges."""
    out: list[Expr] = []
    for f in fields(node):
        if f.name in ("target", "targets", "deps", "params", "span"):
            continue
        value = getattr(node, f.name)
        if isinstance(value, EXPR_TYPES):
            out.append(value)
        elif f.name in ("args", "keywords"):
            out.extend(v for _, v in value)
        elif f.name == "pieces":
            for piece in value:
                out.extend(node_exprs(piece))
        elif isinstance(value, tuple):
            out.extend(v for v in value if isinstance(v, EXPR_TYPES))
    return out


def const_name(expr: Expr) -> str | None:
    """The variable name when it is a literal (the usual case), else None."""
    return expr.value if isinstance(expr, Const) and isinstance(expr.value, str) else None


def name_head(expr: Expr) -> str:
    """What every value of a variable-name expression starts with ("action_" for
    f"action_{step}"; the whole name for a literal; "" when nothing is known)."""
    literal = const_name(expr)
    if literal is not None:
        return literal
    if isinstance(expr, FString) and expr.parts and isinstance(expr.parts[0], Const):
        return str(expr.parts[0].value)
    return ""


def name_pattern(expr: Expr) -> str:
    """A readable template of a variable name: `answer`, `action_{step}`."""
    if isinstance(expr, FString):
        return "".join(str(p.value) if isinstance(p, Const) else "{" + unparse(p.value if isinstance(p, Format) else p) + "}"
                       for p in expr.parts)
    return const_name(expr) or unparse(expr)


def reads(node: Node) -> list[Var]:
    return [v for e in node_exprs(node) for v in var_reads(e)]


def reads_text(node: Node) -> bool:
    """The node reads a state's text (`s.text()`), so no prompt piece may move across it."""
    return any(text_reads(e) for e in node_exprs(node))
