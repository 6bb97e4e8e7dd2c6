"""What every row of a plan walks alike, looked up once per plan: its blocks, its nodes, the
validated call of a gen or select whose arguments are those of the row before.

Rows walk the same blocks, and `Graph.block` scans networkx edges: per row and block that was a
tenth of instantiation; `lmc.gen(...)` checks every argument, per row again. The tables fill as
rows are walked and stay valid while the graph is unchanged (a plan being run never changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lmc.plan.ir import Graph, Node


class Blocks:
    """`Graph.block` and `Graph.node`, remembered."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._blocks: dict[tuple[str, str], tuple[str, ...]] = {}
        self._nodes: dict[str, Node] = {}
        self._calls: dict[str, tuple[list[tuple[str, type, Any]], Any]] = {}

    def block(self, owner: str, arm: str) -> tuple[str, ...]:
        key = (owner, arm)
        ids = self._blocks.get(key)
        if ids is None:
            ids = self._blocks[key] = tuple(self.graph.block(owner, arm))
        return ids

    def node(self, node_id: str) -> Node:
        node = self._nodes.get(node_id)
        if node is None:
            node = self._nodes[node_id] = self.graph.node(node_id)
        return node

    def call(self, node_id: str, args: dict[str, Any], make: Callable[..., Any]) -> Any:
        """`make(**args)`, or the call made for the node's last row where that row's arguments
        were equal and of the same types (so `True` is never taken for `1`)."""
        key = [(k, type(v), v) for k, v in args.items()]
        known = self._calls.get(node_id)
        if known is not None and known[0] == key:
            return known[1]
        made = make(**args)
        self._calls[node_id] = (key, made)
        return made
