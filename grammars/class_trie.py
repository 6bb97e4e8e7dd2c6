"""The vocabulary trie with the bytes a DFA cannot tell apart merged: far fewer nodes to walk.

Two bytes with equal columns in the transition table take every state to the same place, so
"cat" and "dog" run through `[a-z]+` alike. A trie over byte *classes* has one node per distinct
class path: for `[A-Z][a-z]+( [a-z]+){2,8}\\.` about 300 nodes instead of the vocabulary's 56 000,
so walking it from every state costs next to nothing. It is built level by level from the
vocabulary trie (one lookup into a small dense table per level), and only for DFAs with few byte
classes: with the letters of JSON keys each a class of its own, class paths are nearly as many
as tokens and the plain trie is cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmc.grammars.rows import row_groups
from lmc.grammars.trie_walk import Trie
from lmc.grammars.vocab import Vocabulary

MAX_CLASSES = 16


@dataclass(frozen=True)
class ClassTrie:
    """`trie` over class paths; `ends[k]`: a token ends at class node k; `token_node[t]`: the
    class node of token t (-1: control tokens, EOS, and tokens with a byte no state takes)."""

    trie: Trie
    ends: np.ndarray
    token_node: np.ndarray


def class_trie(vocab: Vocabulary, trans: np.ndarray) -> ClassTrie | None:
    """The class trie of `vocab` for the byte DFA `trans`, or None when it has too many byte
    classes to pay off. Bytes no state takes are left out, with everything below them."""
    byte_class = row_groups(trans.T)
    live_bytes = (trans >= 0).any(axis=0)
    classes, rep_byte = np.unique(byte_class[live_bytes], return_index=True)
    if len(classes) > MAX_CLASSES:
        return None
    width = len(classes)
    cls = np.full(257, -1, dtype=np.int64)  # index 256: the root's byte (-1)
    cls[np.flatnonzero(live_bytes)] = np.searchsorted(classes, byte_class[live_bytes])
    rep_byte = np.flatnonzero(live_bytes)[rep_byte].astype(np.int32)
    node = np.full(vocab.num_nodes, -1, dtype=np.int32)
    node[0] = 0
    parents, bytes_ = [np.array([-1], dtype=np.int64)], [np.array([-1], dtype=np.int32)]
    total, prev_first, prev_count = 1, 0, 1
    bounds = vocab.depth_starts
    for lo, hi in zip(bounds[1:-1], bounds[2:]):
        up = node[vocab.parent[lo:hi]].astype(np.int64)
        c = cls[vocab.node_byte[lo:hi]]
        ok = np.flatnonzero((up >= 0) & (c >= 0))
        if not len(ok):
            break
        key = (up[ok] - prev_first) * width + c[ok]
        present = np.zeros(prev_count * width, dtype=bool)
        present[key] = True
        keys = np.flatnonzero(present)
        level = np.full(hi - lo, -1, dtype=np.int32)
        level[ok] = total + (np.cumsum(present) - 1)[key]
        node[lo:hi] = level
        parents.append(prev_first + keys // width)
        bytes_.append(rep_byte[keys % width])
        prev_first, prev_count, total = total, len(keys), total + len(keys)
    parent = np.concatenate(parents)[1:]
    child_lo = (np.searchsorted(parent, np.arange(total), side="left") + 1).astype(np.int32)
    child_hi = (np.searchsorted(parent, np.arange(total), side="right") + 1).astype(np.int32)
    ends = np.zeros(total + 1, dtype=bool)
    token_ends = node[vocab.tok_hi > vocab.tok_lo]
    ends[token_ends[token_ends >= 0]] = True
    token_node = np.where(vocab.token_node >= 0, node[vocab.token_node], -1)
    return ClassTrie((child_lo, child_hi, None, np.concatenate(bytes_)), ends[:total], token_node)
