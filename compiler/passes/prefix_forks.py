"""The forks part of hoist_shared_prefixes: in a loop over a fresh fork's branches, the leading
pieces that are the same in every iteration become a Prefix the branches share."""

from __future__ import annotations

from dataclasses import replace

from lmc.compiler.passes.text_split import split_head
from lmc.plan.expr import Call, Expr, Name, free_names, pattern_names, var_reads
from lmc.plan.ir import (
    Assign,
    Fork,
    Graph,
    HostCall,
    Loop,
    Piece,
    Prefix,
    RoleBegin,
    RoleEnd,
    Text,
)


def hoist_forks(graph: Graph) -> None:
    """In place: a Prefix (scope forks) at the start of each loop over a fresh fork's branches."""
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
                graph.replace(body[k], replace(node, value=rest))
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
        if isinstance(node, (Assign, Loop)) or (isinstance(node, HostCall) and node.target is not None):
            out |= set(pattern_names(node.target))
        if isinstance(node, Fork):
            for t in node.targets:
                out |= set(pattern_names(t))
        for arm in node.arms:
            out |= _assigned(graph, graph.block(node_id, arm))
    return out
