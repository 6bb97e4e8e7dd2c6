"""The rows part of hoist_shared_prefixes: the leading text of `s` that no input or gen affects
becomes one constant Prefix, evaluated at compile time by running those statements on an empty
row (the same interpreter rows use, so the text is exactly what every row would produce)."""

from __future__ import annotations

from dataclasses import replace

from lmc.compiler.passes.text_split import split_head
from lmc.plan.errors import RowError
from lmc.plan.expr import Const, Expr, Name, free_names, pattern_names, var_reads
from lmc.plan.instantiate.ops import RoleOp, TextOp
from lmc.plan.instantiate.row_program import RowProgram
from lmc.plan.ir import (
    ENTRY,
    Assign,
    Branch,
    Graph,
    HostCall,
    Loop,
    Node,
    Piece,
    Prefix,
    RoleBegin,
    RoleEnd,
    Text,
    node_exprs,
    reads_text,
)


def with_fields(node: Node, **changes: object) -> Node:
    return replace(node, **changes)  # type: ignore[type-var]


def independent(expr: Expr, known: set[str]) -> bool:
    """Reads only `known` names and no generated value."""
    return free_names(expr) <= known and not var_reads(expr)


def hoist_rows(graph: Graph) -> None:
    """In place: one constant Prefix (scope rows) first in the program, if any text qualifies."""
    root = Name(graph.entry.state)
    block = graph.block(ENTRY, "body")
    known: set[str] = set()
    consumed: list[str] = []
    kept: list[str] = []
    stop = len(block)
    for i, node_id in enumerate(block):
        node = graph.node(node_id)
        if reads_text(node):  # s.text() must not see text hoisted from after it
            stop = i
            break
        if isinstance(node, Assign):  # kept in place; replayed for the prefix only if it is known
            names = set(pattern_names(node.target))
            if independent(node.value, known):
                known = known | names
                kept.append(node_id)
            else:
                known = known - names
        elif isinstance(node, HostCall):  # stays where it is; its result is known only per row
            known = known - set(pattern_names(node.target)) if node.target is not None else known
        elif _rowindependent(graph, node_id, root, known, block[i + 1:]):
            consumed.append(node_id)
        else:
            stop = i
            break
    head, rest = None, None
    if stop < len(block):
        first = graph.node(block[stop])
        if isinstance(first, Text) and first.state == root:
            head, rest = split_head(first.value, lambda e: independent(e, known))
    if rest is None:
        head = None
    if not consumed and head is None:
        return
    pieces = _evaluate_prefix(graph, kept, consumed, head)
    if pieces is None:
        return
    pieces, trailing = _trim_trailing_space(pieces)
    if not pieces:
        return
    span = graph.node(consumed[0]).span if consumed else graph.node(block[stop]).span
    prefix_id = graph.add(Prefix(root, "rows", tuple(pieces), span=span), prefix="p")
    new_block = [prefix_id, *(i for i in block[:stop] if i not in consumed)]
    if trailing:
        new_block.append(graph.add(Text(root, Const(trailing), span=span)))
    if head is not None and rest is not None:
        first = graph.node(block[stop])
        graph.replace(block[stop], with_fields(first, value=rest))
    graph.set_block(ENTRY, "body", new_block + block[stop:])


def _rowindependent(graph: Graph, node_id: str, root: Expr, known: set[str], later: list[str]) -> bool:
    """Prompt-only, on `s`, the same for every row (no inputs, no gens, no I/O of any kind)."""
    node = graph.node(node_id)
    if isinstance(node, (RoleBegin, RoleEnd)):
        return node.state == root
    if isinstance(node, Text):
        return node.state == root and independent(node.value, known)
    if isinstance(node, (Loop, Branch)):
        test = node.iter if isinstance(node, Loop) else node.test
        inner = known | set(pattern_names(node.target)) if isinstance(node, Loop) else known
        if not independent(test, known):
            return False
        if isinstance(node, Loop) and _names_read(graph, later) & set(pattern_names(node.target)):
            return False  # the loop variable is read afterwards: the loop must stay
        return all(
            _rowindependent(graph, child, root, inner, [])
            for arm in node.arms for child in graph.block(node_id, arm)
        )
    return False


def _names_read(graph: Graph, ids: list[str]) -> set[str]:
    """Names these nodes read before binding them (a loop's own variables are its own)."""
    out: set[str] = set()
    for node_id in ids:
        node = graph.node(node_id)
        for expr in node_exprs(node):
            out |= free_names(expr)
        inner: set[str] = set()
        for arm in node.arms:
            inner |= _names_read(graph, graph.block(node_id, arm))
        out |= inner - set(pattern_names(node.target)) if isinstance(node, Loop) else inner
    return out


def _evaluate_prefix(graph: Graph, kept: list[str], consumed: list[str], head: Expr | None) -> list[Piece] | None:
    """Run the hoisted statements (with the assignments before them) on an empty row."""
    probe = graph.copy()
    root = Name(graph.entry.state)
    order = [n for n in graph.block(ENTRY, "body") if n in kept or n in consumed]
    if head is not None:
        order.append(probe.add(Text(root, head), prefix="probe"))
    probe.set_block(ENTRY, "body", order)
    probe.replace(ENTRY, with_fields(graph.entry, params=()))
    row = RowProgram(probe, {})
    try:
        row.start()
    except RowError:  # a prefix that cannot be evaluated is simply not hoisted
        return None
    pieces: list[Piece] = []
    for op in row.ops:
        if isinstance(op, TextOp) and op.text is not None:
            if pieces and isinstance(pieces[-1], Text):
                last = pieces[-1].value
                assert isinstance(last, Const)
                pieces[-1] = Text(root, Const(last.value + op.text))
            elif op.text:
                pieces.append(Text(root, Const(op.text)))
        elif isinstance(op, RoleOp):
            pieces.append((RoleBegin if op.begin else RoleEnd)(root, op.role))
        else:
            return None
    return pieces


def _trim_trailing_space(pieces: list[Piece]) -> tuple[list[Piece], str]:
    if not pieces or not isinstance(pieces[-1], Text):
        return pieces, ""
    last = pieces[-1]
    assert isinstance(last.value, Const)
    text = last.value.value
    stripped = text.rstrip()
    trailing = text[len(stripped):]
    if not stripped:
        return pieces[:-1], trailing
    return [*pieces[:-1], Text(last.state, Const(stripped))], trailing
