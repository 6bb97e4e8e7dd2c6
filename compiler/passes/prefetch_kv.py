"""prefetch_kv: mark text whose KV can be computed while another state is still generating.

A text that reads variables of *other* states (`"Scores: " + ", ".join(f["score"] for f in
forks)`) must wait for them, but its leading part, and everything before it on its own state,
is known earlier. The pass splits that known head off into its own Text node marked `prefetch`.

Guarantee: prompts are unchanged for every row. A `prefetch` TextOp tells the executor: once the
ops before it on this state are done, the prompt through this op may be prefilled right away,
off the critical path, without waiting for the data dependences of the ops after it.
"""

from __future__ import annotations

from dataclasses import replace

from lmc.compiler.passes.text_split import split_head
from lmc.plan.expr import Expr, var_reads
from lmc.plan.ir import Graph, RoleBegin, RoleEnd, Text
from lmc.plan.options import CompileOptions


def prefetch_kv(graph: Graph, options: CompileOptions) -> Graph:
    """Split off and mark the known head of every text that waits on another state."""
    graph = graph.copy()
    for node_id, owner, arm, _ in list(graph.walk()):
        node = graph.node(node_id)
        if not isinstance(node, Text) or not _reads_other_state(node):
            continue
        head, rest = split_head(node.value, lambda e: not var_reads(e))
        block = graph.block(owner, arm)
        at = block.index(node_id)
        if head is not None and rest is not None:
            head_id = graph.add(Text(node.state, head, prefetch=True, span=node.span))
            graph.replace(node_id, replace(node, value=rest))
            graph.set_block(owner, arm, [*block[:at], head_id, *block[at:]])
            continue
        previous = _previous_text(graph, block[:at], node.state)
        if previous is not None:
            graph.replace(previous, replace(graph.node(previous), prefetch=True))  # type: ignore[type-var]
    return graph


def _reads_other_state(node: Text) -> bool:
    return any(v.state != node.state for v in var_reads(node.value))


def _previous_text(graph: Graph, before: list[str], state: Expr) -> str | None:
    """The nearest earlier known Text on the same state, across role markers only."""
    for node_id in reversed(before):
        node = graph.node(node_id)
        if isinstance(node, (RoleBegin, RoleEnd)) and node.state == state:
            continue
        if isinstance(node, Text) and node.state == state and not var_reads(node.value):
            return node_id
        return None
    return None


__all__ = ["prefetch_kv"]
