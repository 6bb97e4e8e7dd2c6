"""Token-level tables: which tokens each byte-DFA state allows, computed for many states at once.

The vocabulary trie is walked breadth-first against the DFA from all start states together, as a
flat list of live (trie node, start) pairs: each depth is one gather into the transition table
for every pair, and a pair is dropped as soon as its byte has no edge. A state that allows only
`"` costs the ~256 first bytes; only states inside free text touch the whole trie, and no state
pays for another's live subtree. Results are kept per trie node (tokens with equal bytes share
one), scattered into a `[start, token]` table and packed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lmc.grammars.rows import row_groups
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


def walk_pairs(vocab: Vocabulary, trans: np.ndarray, starts: np.ndarray) -> Iterator[Pairs]:
    """Walk every token from every state in `starts` through the byte DFA `trans` [n, 256],
    one trie depth at a time, keeping only the (node, start) pairs still alive."""
    n = trans.shape[0]
    index = np.int32 if n * 256 < 2**31 else np.int64
    flat = trans.astype(index).reshape(-1)
    node = np.zeros(len(starts), dtype=np.int32)
    state = np.asarray(starts, dtype=index)
    col = np.arange(len(starts), dtype=np.int32)
    while len(node):
        lo = vocab.child_lo[node]
        count = vocab.child_hi[node] - lo
        parent = np.repeat(np.arange(len(node), dtype=np.int32), count)
        child = np.arange(len(parent), dtype=np.int32) + np.repeat(lo - (np.cumsum(count) - count).astype(np.int32), count)
        after = flat[state[parent] * 256 + vocab.node_byte[child]]
        alive = np.flatnonzero(after >= 0)
        node, state, col = child[alive], after[alive], col[parent[alive]]
        yield Pairs(node, state, col)


def build_masks(vocab: Vocabulary, trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Packed allowed-token bits `[n + 1, ceil(vocab_size / 8)]` (little bit order), one row per
    byte-DFA state plus a final row for "after EOS" that allows only EOS.

    A token is allowed when its bytes keep the text completable by *some token sequence*; with a
    byte-fallback vocabulary every live byte state qualifies, otherwise states from which no
    token path reaches acceptance are pruned first. Only one state per `horizon_classes` class
    is walked: the others get a copy of its row.
    """
    n = trans.shape[0]
    live = np.ones(n, dtype=bool) if vocab.has_all_bytes else _token_live(vocab, trans, accepting)
    _, reps, classes = np.unique(horizon_classes(trans, live, vocab.max_len), return_index=True, return_inverse=True)
    walked = reps[live[reps]]
    bits = np.zeros((len(reps), vocab.vocab_size), dtype=bool)
    flat_bits = bits.reshape(-1)
    rows = np.flatnonzero(live[reps]).astype(np.int64) * vocab.vocab_size
    for pairs in walk_pairs(vocab, trans, walked):
        token = vocab.node_token[pairs.node]
        ends = np.flatnonzero((token >= 0) & live[pairs.state])
        flat_bits[rows[pairs.col[ends]] + token[ends]] = True
    dup_token, dup_twin = vocab.duplicates
    bits[:, dup_token] = bits[:, dup_twin]
    packed = np.zeros((n + 1, (vocab.vocab_size + 7) // 8), dtype=np.uint8)
    packed[:n] = np.packbits(bits, axis=1, bitorder="little")[classes.reshape(-1)]
    eos_byte, eos_bit = divmod(vocab.eos_token_id, 8)
    packed[:n, eos_byte] &= ~np.uint8(1 << eos_bit)
    packed[:n, eos_byte] |= (accepting & live).astype(np.uint8) << eos_bit
    packed[n, eos_byte] = 1 << eos_bit
    return packed


def horizon_classes(trans: np.ndarray, live: np.ndarray, horizon: int) -> np.ndarray:
    """Class per state such that two states of one class agree on which byte strings of length
    <= `horizon` keep them live, hence allow the same tokens (Moore rounds stopped at depth).
    Bytes with equal columns are interchangeable, so one column per byte class is enough."""
    n = trans.shape[0]
    byte_class = row_groups(trans.T)
    ext = np.where(trans < 0, n, trans)[:, np.unique(byte_class, return_index=True)[1]]
    block = row_groups(live[:, None])
    for _ in range(horizon):
        with_sink = np.append(block, -1)
        new_block = row_groups(np.concatenate([block[:, None], with_sink[ext]], axis=1))
        if new_block.max() == block.max():
            break
        block = new_block
    return block


def _token_live(vocab: Vocabulary, trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """States from which a sequence of whole tokens reaches an accepting state."""
    n = trans.shape[0]
    edges: set[tuple[int, int]] = set()
    for level in walk_levels(vocab, trans, np.arange(n)):
        ends = vocab.tok_hi[level.child] > vocab.tok_lo[level.child]
        row, col = np.nonzero(level.after[ends] != n)
        edges.update(zip(col.tolist(), level.after[ends][row, col].tolist()))
    src, dst = (np.array(x, dtype=np.int64) for x in zip(*edges)) if edges else (np.zeros(0, np.int64),) * 2
    live = accepting.copy()
    while True:
        grown = live.copy()
        grown[src[live[dst]]] = True
        if grown.sum() == live.sum():
            return live
        live = grown
