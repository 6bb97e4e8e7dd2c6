"""Walking the vocabulary trie through a byte DFA from many start states at once.

Breadth-first, one trie depth per step: each step is one gather into the transition table for
every (trie node, start) pair, so the Python overhead is per depth (a few dozen), not per token.
Three shapes: `walk_levels` keeps a dense `[nodes, starts]` matrix (and the dead children, which
the CFG lexer needs to see where a lexeme ends); `walk_pairs` keeps only the live pairs as a flat
list, so a start that allows one byte never pays for another start's whole subtree; `node_states`
walks every node of the whole trie, which is cheaper than `walk_pairs` for a start that reaches
most of the trie anyway (a JSON string body: no pair bookkeeping, one gather per depth).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lmc.grammars.vocab import Vocabulary

SMALL_REACH = 0.25  # share of the trie below which a start's walk is cheaper as pairs


@dataclass(frozen=True)
class Level:
    """One trie depth: `child[i]` was reached from the state `before[i, j]` of start j and is in
    `after[i, j]` (the dead sink `dead` when the byte had no edge). Rows all dead are not kept
    in the next level."""

    child: np.ndarray
    before: np.ndarray
    after: np.ndarray
    dead: int


@dataclass(frozen=True)
class Pairs:
    """One trie depth of a walk from many starts: trie node `node[i]` was reached from start
    `col[i]` (an index into the starts) and is in the live state `state[i]`."""

    node: np.ndarray
    state: np.ndarray
    col: np.ndarray


def walk_levels(vocab: Vocabulary, trans: np.ndarray, starts: np.ndarray) -> Iterator[Level]:
    """Walk every token from every state in `starts` through the byte DFA `trans` [n, 256]."""
    n = trans.shape[0]
    index = np.int32 if (n + 1) * 256 < 2**31 else np.int64
    flat = np.vstack([np.where(trans < 0, n, trans), np.full((1, 256), n)]).astype(index).reshape(-1)
    node = np.zeros(1, dtype=np.int64)
    state = np.asarray(starts, dtype=index)[None, :]
    while len(node):
        lo = vocab.child_lo[node]
        count = vocab.child_hi[node] - lo
        parent = np.repeat(np.arange(len(node)), count)
        child = lo[parent] + (np.arange(len(parent)) - np.repeat(np.cumsum(count) - count, count))
        before = state[parent]
        after = flat[before * 256 + vocab.node_byte[child].astype(index)[:, None]]
        yield Level(child, before, after, n)
        keep = (after != n).any(axis=1)
        node, state = child[keep], after[keep]


Trie = tuple[np.ndarray, np.ndarray, "np.ndarray | None", np.ndarray]
"""`(lo, hi, ids, byte)`: the children of node k are `ids[lo[k]:hi[k]]` (`ids` None: the
positions themselves) and `byte[k]` labels the edge into k; node 0 is the root."""


def walk_pairs(trie: Trie, trans: np.ndarray, starts: np.ndarray) -> Iterator[Pairs]:
    """Walk every path of `trie` from every state in `starts` through the byte DFA `trans`
    [n, 256], one depth at a time, keeping only the (node, start) pairs still alive."""
    n = trans.shape[0]
    index = np.int32 if n * 256 < 2**31 else np.int64
    flat = trans.astype(index).reshape(-1)
    child_lo, child_hi, ids, node_byte = trie
    first = np.arange(child_lo[0], child_hi[0], dtype=np.int32)
    first = first if ids is None else ids[first]
    after = trans[np.asarray(starts)][:, node_byte[first]].astype(index)  # depth 1: a table lookup
    col, at = np.nonzero(after >= 0)
    node, state, col = first[at], after[col, at], col.astype(np.int32)
    yield Pairs(node, state, col)
    while len(node):
        lo = child_lo[node]
        count = child_hi[node] - lo
        parent = np.repeat(np.arange(len(node), dtype=np.int32), count)
        child = np.arange(len(parent), dtype=np.int32) + np.repeat(lo - (np.cumsum(count) - count).astype(np.int32), count)
        if ids is not None:
            child = ids[child]
        after = flat[state[parent] * 256 + node_byte[child]]
        alive = np.flatnonzero(after >= 0)
        node, state, col = child[alive], after[alive], col[parent[alive]]
        yield Pairs(node, state, col)


def node_states(vocab: Vocabulary, trans: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """`[len(starts), num_nodes + 1]`: the state each trie node's bytes lead to from each start
    (`n`, the row count of `trans`, once dead; the last column is that sink too, so a lookup by
    `token_node` with -1 reads it)."""
    n = trans.shape[0]
    index = np.int32 if (n + 1) * 256 < 2**31 else np.int64
    flat = np.vstack([np.where(trans < 0, n, trans), np.full((1, 256), n)]).astype(index).reshape(-1)
    states = np.empty((len(starts), vocab.num_nodes + 1), dtype=index)
    states[:, 0] = starts
    states[:, -1] = n
    parent, byte, bounds = vocab.parent, vocab.node_byte, vocab.depth_starts
    for lo, hi in zip(bounds[1:-1], bounds[2:]):
        states[:, lo:hi] = flat[states[:, parent[lo:hi]] * 256 + byte[lo:hi]]
    return states


def reach_bound(vocab: Vocabulary, trans: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """An upper bound, per start, on the trie nodes a walk from it visits: the whole subtrees
    below the depth-2 nodes it reaches (exact but for what dies deeper down). Cheap: one lookup
    per depth-2 node, and only for starts whose depth-1 bound is not already small."""
    bounds, size = vocab.depth_starts, vocab.subtree_size
    one = slice(bounds[1], bounds[2])
    first = trans[np.asarray(starts)][:, vocab.node_byte[one]]
    result = (first >= 0) @ size[one]
    big = np.flatnonzero(result >= SMALL_REACH * vocab.num_nodes)
    if len(big) and len(bounds) > 3:
        two = slice(bounds[2], bounds[3])
        before = first[big][:, vocab.parent[two] - bounds[1]]
        after = trans.reshape(-1)[before * 256 + vocab.node_byte[two]]  # before -1: masked below
        result[big] = ((before >= 0) & (after >= 0)) @ size[two] + (first[big] >= 0).sum(axis=1)
    return result
