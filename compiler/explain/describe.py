"""One short label per IR node, shared by every `lmc explain` format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmc.plan.expr import Const, Expr, unparse
from lmc.plan.expr.render import render_pattern
from lmc.plan.ir import (
    Assign,
    Branch,
    Break,
    Continue,
    Dynamic,
    Entry,
    Fork,
    Gen,
    Graph,
    HostCall,
    Image,
    Join,
    Loop,
    NewState,
    Node,
    Prefix,
    Return,
    RoleBegin,
    RoleEnd,
    Select,
    SetVar,
    Text,
    name_pattern,
)

LIMIT = 72


@dataclass(frozen=True)
class Label:
    """`category` picks the style: prefix, text, role, gen, select, fork, control, dynamic, call,
    other."""

    category: str
    text: str


def _short(expr: Expr | None) -> str:
    return unparse(expr, LIMIT)


def prefix_text(node: Prefix) -> str:
    """The prefix as readable text, role markers as <role> and </role>."""
    parts = []
    for piece in node.pieces:
        if isinstance(piece, Text):
            value = piece.value
            parts.append(value.value if isinstance(value, Const) else "{" + unparse(value) + "}")
        else:
            parts.append(f"<{piece.role}>" if isinstance(piece, RoleBegin) else f"</{piece.role}>")
    return "".join(parts)


def gen_summary(node: Gen, constraints: dict[str, Any]) -> str:
    args = dict(node.args)
    bits = [f"{k}={_short(v)}" for k, v in node.args if k not in ("regex", "json_schema", "grammar", "choices", "dtype")]
    kind = next((k for k in ("regex", "json_schema", "grammar", "choices", "dtype") if k in args), None)
    if kind is not None:
        entry = constraints.get(node.constraint or "", {})
        size = f", DFA {entry['dfa_states']} states" if entry.get("dfa_states") else ""
        shown = "schema" if kind == "json_schema" else _short(args[kind])
        bits.insert(0, f"{kind} {shown}{size}")
    return ", ".join(bits)


def describe(graph: Graph, node_id: str) -> Label:
    node: Node = graph.node(node_id)
    constraints = graph.meta.get("constraints", {})
    if isinstance(node, Entry):
        params = ", ".join(p.name + (f": {p.annotation}" if p.annotation else "") for p in node.params)
        return Label("other", f"program {node.name}({node.state}{', ' if params else ''}{params})")
    if isinstance(node, Prefix):
        where = "every row" if node.scope == "rows" else f"the branches of {node.fork}"
        text = repr(prefix_text(node))
        text = text if len(text) <= LIMIT else f"{text[:LIMIT - 12]}…{text[-10:]} ({len(text)} chars)"
        return Label("prefix", f"shared prefix {node_id} ({where}) on {_short(node.state)}: {text}")
    if isinstance(node, Text):
        flag = "  [prefetch]" if node.prefetch else ""
        return Label("text", f"{_short(node.state)} += {_short(node.value)}{flag}")
    if isinstance(node, (RoleBegin, RoleEnd)):
        marker = f"<{node.role}>" if isinstance(node, RoleBegin) else f"</{node.role}>"
        return Label("role", f"{_short(node.state)} += {marker}")
    if isinstance(node, Gen):
        return Label("gen", f"{_short(node.state)} += gen {name_pattern(node.name)}  ({gen_summary(node, constraints)})")
    if isinstance(node, Select):
        shared = f", shared choice prefix {node.choice_prefix!r}" if node.choice_prefix else ""
        return Label("select", f"{_short(node.state)} += select {name_pattern(node.name)} from {_short(node.choices)}{shared}")
    if isinstance(node, HostCall):
        args = ", ".join([_short(a) for a in node.positional] + [f"{k}={_short(v)}" for k, v in node.keywords])
        target = "" if node.target is None else f"{render_pattern(node.target)} = "
        function = node.function if node.key is None else (
            f"{node.function}[{_short(node.key)}] of {', '.join(k for k, _, _ in node.table)}")
        return Label("call", f"{target}{function}({args})  (Python, run when its arguments exist)")
    if isinstance(node, SetVar):
        return Label("other", f"{_short(node.state)}[{name_pattern(node.name)}] = {_short(node.value)}")
    if isinstance(node, NewState):
        return Label("fork", f"{render_pattern(node.target)} = a new state of its own (empty prompt)")
    if isinstance(node, Fork):
        targets = ", ".join(f"{render_pattern(t)} = fork({_short(n)})" for t, n in zip(node.targets, node.sizes))
        return Label("fork", f"{targets} of {_short(node.state)}" + (f"  [group {node.group}]" if node.group else ""))
    if isinstance(node, Image) and node.frames is not None:
        return Label("other", f"{_short(node.state)} += video {_short(node.path)}, {_short(node.frames)} frames"
                     "  (needs a video model)")
    if isinstance(node, Image):
        return Label("other", f"{_short(node.state)} += image {_short(node.path)}  (needs a vision model)")
    if isinstance(node, Join):
        return Label("fork", f"{_short(node.state)}.join({_short(node.forks)})")
    if isinstance(node, Loop):
        return Label("control", f"for {render_pattern(node.target)} in {_short(node.iter)}  (per row)")
    if isinstance(node, Branch):
        return Label("control", f"if {_short(node.test)}  (per row)")
    if isinstance(node, Dynamic):
        head = {"if": f"if {_short(node.test)}", "while": f"while {_short(node.test)}",
                "for": f"for {render_pattern(node.target or '_')} in {_short(node.test)}"}[node.construct]
        waits = ", ".join(node.deps) or "generated values"
        return Label("dynamic", f"dynamic region: {head}  (expanded at run time, waits on {waits})")
    if isinstance(node, Assign):
        return Label("other", f"{render_pattern(node.target)} = {_short(node.value)}")
    if isinstance(node, Return):
        return Label("other", f"return {_short(node.value)}")
    if isinstance(node, (Break, Continue)):
        return Label("control", node.kind)
    return Label("other", node.kind)
