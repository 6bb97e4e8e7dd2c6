"""Which sequences of a forward share a cached prefix, read off the radix tree.

A running sequence locks the tree node its cached tokens end at, and its KV list begins with the
slots of that node's path: two sequences whose paths pass through one node hold the very same
slots up to that node's depth. So the shared part of a batch is found by walking each sequence's
locked node up to the root (a few nodes each) and counting how many sequences pass through
every node on the way; no token or slot is compared.
"""

from __future__ import annotations

from lmc.kernels.attention.shared_prefix import MIN_PREFIX, MIN_ROWS, SHORT_EXTEND, PrefixGroup
from lmc.runtime.radix_node import TreeNode
from lmc.runtime.sequence import Sequence


def shared_prefix_groups(
    seqs: list[Sequence],
    extend_lens: list[int],
    min_rows: int = MIN_ROWS,
    min_prefix: int = MIN_PREFIX,
) -> list[PrefixGroup]:
    """Groups of at least `min_rows` sequences sharing at least `min_prefix` cached tokens.

    The rule (when sharing pays): only sequences computing at most SHORT_EXTEND tokens take
    part, since a longer extend already reads each KV block once for a block of its own queries;
    each takes the node on its path that saves the most reads, (sequences through it - 1) x its
    depth, among nodes at least `min_prefix` deep passed by at least `min_rows` of them; nodes
    nobody takes or that too few take form no group. Sequences with the same path choose alike.
    """
    chains: list[tuple[int, list[tuple[TreeNode, int]]]] = []
    passes: dict[int, int] = {}
    for b, (seq, n) in enumerate(zip(seqs, extend_lens)):
        if n > SHORT_EXTEND or seq.node is None:
            continue
        chain = _ancestors(seq.node)
        for node, _ in chain:
            passes[id(node)] = passes.get(id(node), 0) + 1
        chains.append((b, chain))
    if len(chains) < min_rows:
        return []
    chosen: dict[int, list[int]] = {}
    lengths: dict[int, int] = {}
    for b, chain in chains:
        best, best_depth, gain = None, 0, 0
        for node, d in chain:
            k = passes[id(node)]
            if d >= min_prefix and k >= min_rows and (k - 1) * d > gain:
                best, best_depth, gain = node, d, (k - 1) * d
        if best is not None:
            chosen.setdefault(id(best), []).append(b)
            lengths[id(best)] = best_depth
    return [
        PrefixGroup(lengths[key], tuple(members))
        for key, members in chosen.items()
        if len(members) >= min_rows
    ]


def _ancestors(node: TreeNode) -> list[tuple[TreeNode, int]]:
    """`node` and every ancestor below the root, each with its depth (tokens from the root)."""
    chain = []
    while node.parent is not None:
        chain.append(node)
        node = node.parent
    out, depth = [], 0
    for up in reversed(chain):
        depth += len(up.key)
        out.append((up, depth))
    return out


class PrefixGrouper:
    """`shared_prefix_groups` that remembers its last batch: the decode steps of one batch keep
    their sequences and locked nodes, so most steps reuse the last answer for the price of two
    list comparisons. The remembered nodes are held, so no other node can take their identity;
    a node keeps its depth and its place on every path through it while a sequence locks it."""

    def __init__(self) -> None:
        self._nodes: list[TreeNode | None] = []
        self._short: list[bool] = []
        self._groups: list[PrefixGroup] = []

    def __call__(self, seqs: list[Sequence], extend_lens: list[int]) -> list[PrefixGroup]:
        nodes = [seq.node for seq in seqs]
        short = [n <= SHORT_EXTEND for n in extend_lens]
        if nodes != self._nodes or short != self._short:
            self._nodes, self._short = nodes, short
            self._groups = shared_prefix_groups(seqs, extend_lens)
        return self._groups
