"""Walking the vocabulary trie through a byte DFA from many start states at once.

Breadth-first, one trie depth per step: each step is one gather into the transition table for
every (trie node, start) pair, so the Python overhead is per depth (a few dozen), not per token.
Two shapes: `walk_levels` keeps a dense `[nodes, starts]` matrix (and the dead children, which
the CFG lexer needs to see where a lexeme ends); `walk_pairs` keeps only the live pairs as a flat
list, so a start that allows one byte never pays for another start's whole subtree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lmc.grammars.vocab import Vocabulary


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
