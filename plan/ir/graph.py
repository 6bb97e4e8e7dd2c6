"""The IR graph: nodes on a networkx multigraph, blocks as chains of "prompt" edges.

Edges have a kind (the edge key): `prompt` links a node to the next one of its block (program
order, which on one state is prompt order); `body:<arm>` links a structured node to the head of
one of its arms; `data` links a gen/select to every node that may read the variable it stores.
A host call links to the nodes that read its result. A multigraph because a gen's successor
often also reads it (both a prompt and a data edge).
"""

from __future__ import annotations

import copy
import linecache
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from lmc.plan.errors import Location
from lmc.plan.expr import Expr, free_names, pattern_names
from lmc.plan.ir.nodes import (
    Entry,
    Gen,
    HostCall,
    Node,
    Select,
    Span,
    const_name,
    name_head,
    node_exprs,
    reads,
)

ENTRY = "n0"


@dataclass(frozen=True)
class Source:
    """A file whose source was compiled: its path and the sha256 of its bytes."""

    path: str
    sha256: str


@dataclass
class Graph:
    """A program as IR: `g` holds nodes (attribute `node`), `sources` the files they came from,
    `meta` what passes computed for the executor (constraint table, row order, pass log)."""

    g: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    sources: list[Source] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    # -- nodes ---------------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        return self.g.nodes[node_id]["node"]

    @property
    def entry(self) -> Entry:
        node = self.node(ENTRY)
        assert isinstance(node, Entry)
        return node

    def add(self, node: Node, prefix: str = "n") -> str:
        """Insert a node under a fresh deterministic id (`prefix` + the next free number)."""
        used = {int(m.group(1)) for n in self.g for m in [re.fullmatch(rf"{prefix}(\d+)", n)] if m}
        node_id = f"{prefix}{max(used, default=0) + 1}"
        self.g.add_node(node_id, node=node)
        return node_id

    def replace(self, node_id: str, node: Node) -> None:
        self.g.nodes[node_id]["node"] = node

    def remove_tree(self, node_id: str) -> None:
        """Delete a node and everything in its arms."""
        for arm in self.node(node_id).arms:
            for child in self.block(node_id, arm):
                self.remove_tree(child)
        self.g.remove_node(node_id)

    def ids(self) -> list[str]:
        return sorted(self.g.nodes, key=natural_key)

    # -- blocks --------------------------------------------------------------------------------
    def block(self, owner: str, arm: str) -> list[str]:
        """The nodes of one arm of `owner`, in program order."""
        head = next((v for _, v, k in self.g.out_edges(owner, keys=True) if k == f"body:{arm}"), None)
        out: list[str] = []
        while head is not None:
            out.append(head)
            head = next((v for _, v, k in self.g.out_edges(head, keys=True) if k == "prompt"), None)
        return out

    def set_block(self, owner: str, arm: str, ids: list[str]) -> None:
        """Make `ids` the arm's block; nodes that drop out of it are deleted with their arms."""
        old = self.block(owner, arm)
        if old:
            self.g.remove_edge(owner, old[0], key=f"body:{arm}")
        for a, b in zip(old, old[1:]):
            self.g.remove_edge(a, b, key="prompt")
        for gone in set(old) - set(ids):
            self.remove_tree(gone)
        if ids:
            self.g.add_edge(owner, ids[0], key=f"body:{arm}", kind="body", arm=arm)
        for a, b in zip(ids, ids[1:]):
            self.g.add_edge(a, b, key="prompt", kind="prompt")

    def walk(self, owner: str = ENTRY, depth: int = 0) -> Iterator[tuple[str, str, str, int]]:
        """Pre-order over the structure: (node id, owner id, arm, depth)."""
        for arm in self.node(owner).arms:
            for child in self.block(owner, arm):
                yield child, owner, arm, depth
                yield from self.walk(child, depth + 1)

    def nodes_of(self, *types: type) -> list[tuple[str, Node]]:
        return [(i, self.node(i)) for i, _, _, _ in self.walk() if isinstance(self.node(i), types)]

    # -- data edges ----------------------------------------------------------------------------
    def link_data(self) -> None:
        """Recompute `data` edges: every gen/select storing a name -> every node reading it, and
        every host call -> every node reading the local its result is bound to.

        Names that are expressions (f"action_{step}") are compared by their constant heads, and
        locals by name wherever they are read: a safe over-approximation (it may link too much,
        never too little), for display only."""
        self.g.remove_edges_from([(u, v, k) for u, v, k in self.g.edges(keys=True) if k == "data"])
        producers = [(i, n) for i, n in self.nodes_of(Gen, Select)]
        calls = [(i, set(pattern_names(n.target))) for i, n in self.nodes_of(HostCall)
                 if isinstance(n, HostCall) and n.target is not None]
        for reader_id, _, _, _ in self.walk():
            reader = self.node(reader_id)
            for var in reads(reader):
                for prod_id, prod in producers:
                    assert isinstance(prod, (Gen, Select))
                    if prod_id != reader_id and _may_match(var.name, prod.name):
                        self.g.add_edge(prod_id, reader_id, key="data", kind="data")
            names = {name for e in node_exprs(reader) for name in free_names(e)}
            for call_id, bound in calls:
                if call_id != reader_id and names & bound:
                    self.g.add_edge(call_id, reader_id, key="data", kind="data")

    def location(self, span: Span | None) -> Location | None:
        """A printable location (with the source line) for a node's span, for errors."""
        if span is None or span.source >= len(self.sources):
            return None
        path = self.sources[span.source].path
        end = span.end_col if span.end_line == span.line else None
        return Location(path, span.line, span.col, end, linecache.getline(path, span.line))

    def copy(self) -> Graph:
        return Graph(self.g.copy(), list(self.sources), copy.deepcopy(self.meta))


def _may_match(read: Expr, written: Expr) -> bool:
    a, b = const_name(read), const_name(written)
    if a is not None and b is not None:
        return a == b
    head_a, head_b = name_head(read), name_head(written)
    return head_a.startswith(head_b) or head_b.startswith(head_a)


def natural_key(node_id: str) -> tuple[str, int]:
    m = re.fullmatch(r"([a-z]+)(\d+)", node_id)
    return (m.group(1), int(m.group(2))) if m else (node_id, 0)
