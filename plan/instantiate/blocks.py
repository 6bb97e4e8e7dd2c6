"""A plan's block structure as every row walks it, read from the graph once per plan.

Rows walk the same blocks, and `Graph.block` scans networkx edges: per row and block that was a
tenth of instantiation. The table is filled as blocks are first walked and stays valid while the
graph is unchanged (a plan being run never changes).
"""

from __future__ import annotations

from lmc.plan.ir import Graph, Node


class Blocks:
    """`Graph.block` and `Graph.node`, remembered."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._blocks: dict[tuple[str, str], tuple[str, ...]] = {}
        self._nodes: dict[str, Node] = {}

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
