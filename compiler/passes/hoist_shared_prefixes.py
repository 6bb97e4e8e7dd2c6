"""hoist_shared_prefixes: name the prompt text that many requests share, so it is computed once.

Guarantees: every state's rendered prompt is unchanged for every row (Prefix pieces are the same
text, in the same place). What changes is that shared text is marked:
- rows: the leading text of `s` that depends on no input and no gen becomes one constant Prefix
  (scope "rows") at the start of the program; the executor prefills it once and pins it.
- forks: the leading text of a loop over a fresh fork's branches that is the same in every
  iteration becomes a Prefix (scope "forks") at the start of the loop body; its text is computed
  per row, then prefilled once for all branches.
- choices: a select whose constant choices share a leading string records it (`choice_prefix`),
  so scoring can share that text's KV as well as the prompt's.
A hoisted row prefix never ends in whitespace (it moves to the next piece): tokenizers attach
spaces to the following word, so the prefix's tokens stay a prefix of every row's tokens.
"""

from __future__ import annotations

import os
from dataclasses import replace

from lmc.compiler.errors import RowError
from lmc.compiler.expr import Call, Const, Expr, Name, free_names, pattern_names, var_reads
from lmc.compiler.instantiate.ops import RoleOp, TextOp
from lmc.compiler.instantiate.row_program import RowProgram
from lmc.compiler.ir import (
    ENTRY,
    Assign,
    Branch,
    Fork,
    Graph,
    Loop,
    Node,
    Piece,
    Prefix,
    RoleBegin,
    RoleEnd,
    Select,
    Text,
    node_exprs,
)
from lmc.compiler.options import CompileOptions
from lmc.compiler.passes.text_split import split_head


def hoist_shared_prefixes(graph: Graph, options: CompileOptions) -> Graph:
    """Mark text shared across rows, across a fork's branches and across a select's choices."""
    graph = graph.copy()
    _hoist_rows(graph)
    _hoist_forks(graph)
    for node_id, node in graph.nodes_of(Select):
        assert isinstance(node, Select)
        if isinstance(node.choices, Const) and len(node.choices.value) > 1:
            common = os.path.commonprefix(list(node.choices.value))
            if common:
                graph.replace(node_id, _with(node, choice_prefix=common))
    return graph


def _with(node: Node, **changes: object) -> Node:
    return replace(node, **changes)  # type: ignore[type-var]


def _independent(expr: Expr, known: set[str]) -> bool:
    return free_names(expr) <= known and not var_reads(expr)


# -- rows ------------------------------------------------------------------------------------------
def _hoist_rows(graph: Graph) -> None:
    root = Name(graph.entry.state)
    block = graph.block(ENTRY, "body")
    known: set[str] = set()
    consumed: list[str] = []
    kept: list[str] = []
    stop = len(block)
    for i, node_id in enumerate(block):
        node = graph.node(node_id)
        if isinstance(node, Assign):
            names = set(pattern_names(node.target))
            known = known | names if _independent(node.value, known) else known - names
            kept.append(node_id)
        elif _row_independent(graph, node_id, root, known, block[i + 1:]):
            consumed.append(node_id)
        else:
            stop = i
            break
    head, rest = None, None
    if stop < len(block):
        first = graph.node(block[stop])
        if isinstance(first, Text) and first.state == root:
            head, rest = split_head(first.value, lambda e: _independent(e, known))
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
        graph.replace(block[stop], _with(first, value=rest))
    graph.set_block(ENTRY, "body", new_block + block[stop:])


def _row_independent(graph: Graph, node_id: str, root: Expr, known: set[str], later: list[str]) -> bool:
    """Prompt-only, on `s`, the same for every row (no inputs, no gens, no I/O of any kind)."""
    node = graph.node(node_id)
    if isinstance(node, (RoleBegin, RoleEnd)):
        return node.state == root
    if isinstance(node, Text):
        return node.state == root and _independent(node.value, known)
    if isinstance(node, (Loop, Branch)):
        test = node.iter if isinstance(node, Loop) else node.test
        inner = known | set(pattern_names(node.target)) if isinstance(node, Loop) else known
        if not _independent(test, known):
            return False
        if isinstance(node, Loop) and _names_read(graph, later) & set(pattern_names(node.target)):
            return False  # the loop variable is read afterwards: the loop must stay
        return all(
            _row_independent(graph, child, root, inner, [])
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
    probe.replace(ENTRY, _with(graph.entry, params=()))
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


# -- forks -----------------------------------------------------------------------------------------
def _hoist_forks(graph: Graph) -> None:
    for fork_id, fork in graph.nodes_of(Fork):
        assert isinstance(fork, Fork)
        if len(fork.targets) != 1 or not isinstance(fork.targets[0], str):
            continue
        loop_id = _loop_after(graph, fork_id, fork.targets[0])
        if loop_id is None:
            continue
        loop = graph.node(loop_id)
        assert isinstance(loop, Loop)
        branch = _branch_var(loop, fork.targets[0])
        if branch is not None:
            _hoist_loop_head(graph, fork_id, loop_id, branch)


def _loop_after(graph: Graph, fork_id: str, target: str) -> str | None:
    """The loop right after the fork (only assignments between) over its branch list."""
    for owner, arm in _owner_of(graph, fork_id):
        block = graph.block(owner, arm)
        for node_id in block[block.index(fork_id) + 1:]:
            node = graph.node(node_id)
            if isinstance(node, Assign) and target not in pattern_names(node.target):
                continue
            return node_id if isinstance(node, Loop) else None
    return None


def _owner_of(graph: Graph, node_id: str) -> list[tuple[str, str]]:
    return [(owner, arm) for n, owner, arm, _ in graph.walk() if n == node_id]


def _branch_var(loop: Loop, forks: str) -> str | None:
    """The loop variable bound to the branch: `for f in forks`, `zip(forks, ...)`, `enumerate(forks)`."""
    it, target = loop.iter, loop.target
    if it == Name(forks) and isinstance(target, str):
        return target
    if isinstance(it, Call) and it.args and isinstance(target, tuple) and not it.kwargs:
        if it.func == "zip" and it.args[0] == Name(forks) and isinstance(target[0], str):
            return target[0]
        if it.func == "enumerate" and len(it.args) == 1 and it.args[0] == Name(forks) and isinstance(target[1], str):
            return target[1]
    return None


def _hoist_loop_head(graph: Graph, fork_id: str, loop_id: str, branch: str) -> None:
    """Leading assignments stay; the prompt pieces right after them that are the same in every
    iteration (on the branch or an alias of it, e.g. an inlined program's state) are hoisted."""
    loop = graph.node(loop_id)
    assert isinstance(loop, Loop)
    body = graph.block(loop_id, "body")
    later_assigned = _assigned(graph, body) | set(pattern_names(loop.target))
    invariant: set[str] = set()
    states = {branch}
    k = 0
    while k < len(body) and isinstance(graph.node(body[k]), Assign):
        node = graph.node(body[k])
        assert isinstance(node, Assign)
        if isinstance(node.target, str):
            if node.value in [Name(a) for a in states]:
                states.add(node.target)
            elif not var_reads(node.value) and free_names(node.value) <= invariant | _outer(later_assigned, free_names(node.value)):
                invariant.add(node.target)
        k += 1
    start = k

    def same_each_time(e: Expr) -> bool:
        names = free_names(e)
        return not var_reads(e) and names <= invariant | _outer(later_assigned, names)

    pieces: list[Piece] = []
    state: Expr | None = None
    while k < len(body):
        node = graph.node(body[k])
        if not isinstance(node, (RoleBegin, RoleEnd, Text)) or node.state not in [Name(a) for a in states]:
            break
        if state is not None and node.state != state:
            break
        if isinstance(node, Text) and not same_each_time(node.value):
            head, rest = split_head(node.value, same_each_time)
            if head is not None and rest is not None:
                pieces.append(Text(node.state, head, span=node.span))
                graph.replace(body[k], _with(node, value=rest))
            break
        state = node.state
        pieces.append(node)
        k += 1
    if not any(isinstance(p, Text) for p in pieces):
        return
    prefix = Prefix(pieces[0].state, "forks", tuple(pieces), fork=fork_id, span=pieces[0].span)
    prefix_id = graph.add(prefix, prefix="p")
    graph.set_block(loop_id, "body", [*body[:start], prefix_id, *body[k:]])


def _outer(assigned: set[str], names: set[str]) -> set[str]:
    """The names among `names` the loop body never assigns (fixed for all iterations)."""
    return names - assigned


def _assigned(graph: Graph, ids: list[str]) -> set[str]:
    out: set[str] = set()
    for node_id in ids:
        node = graph.node(node_id)
        if isinstance(node, (Assign, Loop)):
            out |= set(pattern_names(node.target))
        if isinstance(node, Fork):
            for t in node.targets:
                out |= set(pattern_names(t))
        for arm in node.arms:
            out |= _assigned(graph, graph.block(node_id, arm))
    return out
