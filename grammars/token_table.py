"""Token-level tables: which tokens each byte-DFA state allows, computed for many states at once.

The vocabulary trie is walked breadth-first against the DFA for a chunk of start states together:
each level is one gather into the transition table for every (live trie node, start state) pair,
and a trie node is dropped as soon as it is dead from every start of the chunk. A state that
allows only `"` touches the ~256 first bytes; only states inside free text touch the whole trie,
so starts are chunked by how many bytes they allow (free-text states together). Results are kept
per trie node (tokens with equal bytes share one) and spread to token ids by one gather at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lmc.grammars.rows import row_groups
from lmc.grammars.vocab import Vocabulary

CHUNK = 64


@dataclass(frozen=True)
class Level:
    """One trie depth: `child[i]` was reached from the state `before[i, j]` of start j and is in
    `after[i, j]` (the dead sink `dead` when the byte had no edge). Rows all dead are not kept
    in the next level."""

    child: np.ndarray
    before: np.ndarray
    after: np.ndarray
    dead: int


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
    live_sink = np.append(live, False)
    _, reps, classes = np.unique(horizon_classes(trans, live, vocab.max_len), return_index=True, return_inverse=True)
    classes = classes.reshape(-1)
    rep_packed = np.zeros((len(reps), (vocab.vocab_size + 7) // 8), dtype=np.uint8)
    dup_token, dup_twin = vocab.duplicates
    for chunk in _chunks(trans[reps]):
        starts = reps[chunk]
        bits = np.zeros((vocab.vocab_size, len(starts)), dtype=bool)
        for level in walk_levels(vocab, trans, starts):
            ends = np.flatnonzero(vocab.tok_hi[level.child] > vocab.tok_lo[level.child])
            bits[vocab.node_token[level.child[ends]]] = live_sink[level.after[ends]]
        bits[dup_token] = bits[dup_twin]
        bits &= live[starts]
        rep_packed[chunk] = _pack_columns(bits)
    packed = np.zeros((n + 1, rep_packed.shape[1]), dtype=np.uint8)
    packed[:n] = rep_packed[classes]
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


def _pack_columns(bits: np.ndarray) -> np.ndarray:
    """`np.packbits(bits.T, axis=1, bitorder="little")` for a token-major bool table, without
    materializing the transpose."""
    tokens, k = bits.shape
    padded = np.zeros(((tokens + 7) // 8 * 8, k), dtype=np.uint8)
    padded[:tokens] = bits
    groups = padded.reshape(-1, 8, k)
    out = np.zeros((groups.shape[0], k), dtype=np.uint8)
    for j in range(8):
        out |= groups[:, j, :] << j
    return out.T


def _chunks(trans: np.ndarray) -> Iterator[np.ndarray]:
    """Start states grouped by how many bytes they allow, each group about `CHUNK` wide states'
    worth of work, so free-text states walk together and narrow states in large groups."""
    width = (trans >= 0).sum(axis=1)
    order = np.argsort(width, kind="stable")
    budget = CHUNK * 256
    lo = 0
    cost = np.cumsum(np.maximum(width[order], 1))
    while lo < len(order):
        base = cost[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cost, base + budget, side="right")))
        yield order[lo:hi]
        lo = hi


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
