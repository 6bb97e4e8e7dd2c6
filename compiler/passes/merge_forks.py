"""merge_forks: fewer fork points, and one request group per family of branches.

Guarantees: every state's prompt and variables are unchanged for every row.
- Sibling forks of the same state with nothing but assignments between them (`a = s.fork(2)`,
  `b = s.fork(3)`) become one Fork node with both targets: one fork op, five branches that share
  one copy of the parent's prompt.
- Every Fork gets a `group`: its own id, or, for a fork made at the very start of a loop over an
  outer fork's branches (no text in between, so the same prompt), the outer fork's group. The
  executor submits the gens of one group together as one batched request group.
"""

from __future__ import annotations

from dataclasses import replace

from lmc.plan.expr import Name, free_names, pattern_names
from lmc.plan.ir import Assign, Fork, Graph, Loop
from lmc.plan.options import CompileOptions


def merge_forks(graph: Graph, options: CompileOptions) -> Graph:
    """Merge adjacent sibling forks; give nested forks their family's batch group."""
    graph = graph.copy()
    for owner, arm in _blocks(graph):
        _merge_siblings(graph, owner, arm)
    for fork_id, fork in graph.nodes_of(Fork):
        graph.replace(fork_id, replace(fork, group=fork_id))  # type: ignore[type-var]
    for fork_id, _ in graph.nodes_of(Fork):
        fork = graph.node(fork_id)  # re-read: an enclosing fork may have set its group
        assert isinstance(fork, Fork)
        for loop_id in _loops_over(graph, fork):
            body = graph.block(loop_id, "body")
            inner = graph.node(body[0]) if body else None
            loop = graph.node(loop_id)
            assert isinstance(loop, Loop)
            if isinstance(inner, Fork) and isinstance(loop.target, str) and inner.state == Name(loop.target):
                graph.replace(body[0], replace(inner, group=fork.group))
    return graph


def _blocks(graph: Graph) -> list[tuple[str, str]]:
    owners = ["n0", *(n for n, _, _, _ in graph.walk())]
    return [(o, arm) for o in owners for arm in graph.node(o).arms]


def _merge_siblings(graph: Graph, owner: str, arm: str) -> None:
    block = graph.block(owner, arm)
    out: list[str] = []
    last_fork: str | None = None
    between: list[str] = []
    for node_id in block:
        node = graph.node(node_id)
        if isinstance(node, Fork) and last_fork is not None:
            prev = graph.node(last_fork)
            assert isinstance(prev, Fork)
            if prev.state == node.state and _can_move_up(graph, node, prev, between):
                graph.replace(last_fork, replace(prev, targets=prev.targets + node.targets,
                                                 sizes=prev.sizes + node.sizes))
                continue
        if isinstance(node, Fork):
            last_fork, between = node_id, []
        elif isinstance(node, Assign) and last_fork is not None:
            between.append(node_id)
        else:
            last_fork, between = None, []
        out.append(node_id)
    if out != block:
        graph.set_block(owner, arm, out)


def _can_move_up(graph: Graph, fork: Fork, prev: Fork, between: list[str]) -> bool:
    """Creating `fork` together with `prev` evaluates its sizes and binds its targets earlier:
    allowed only if nothing in between reads or rebinds those names, and its sizes read neither
    `prev`'s targets nor anything assigned in between."""
    targets = {n for t in fork.targets for n in pattern_names(t)}
    assigned = {n for t in prev.targets for n in pattern_names(t)}
    for node_id in between:
        node = graph.node(node_id)
        assert isinstance(node, Assign)
        assigned |= set(pattern_names(node.target))
        if free_names(node.value) & targets or set(pattern_names(node.target)) & targets:
            return False
    return not any(free_names(size) & assigned for size in fork.sizes)


def _loops_over(graph: Graph, fork: Fork) -> list[str]:
    names = [t for t in fork.targets if isinstance(t, str)]
    return [i for i, n in graph.nodes_of(Loop) if isinstance(n, Loop) and n.iter in [Name(t) for t in names]]
