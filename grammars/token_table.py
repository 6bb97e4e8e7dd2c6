"""Token-level tables: which tokens each byte-DFA state allows, computed for many states at once.

Two walks of the vocabulary trie (`trie_walk.walk_pairs`) share the work. Most tokens are spelled
in common bytes (letters, space), while a constraint's structure is spelled in rare ones: the
JSON string bodies of different fields allow the same tokens except those holding a `"`, after
which the fields' keys differ. So a few *split* bytes are chosen (`_split_bytes`); the first walk
cuts them and goes once per class of states that agree on the remaining strings (once for all
string bodies); the second goes from every state, but only down the part of the trie with a
split-byte token below. A state's row is the OR of the two. When the DFA tells few bytes apart,
the first walk follows a trie of byte-class paths instead (`class_trie`), far smaller. A start
that reaches most of the trie (a string body) walks every node densely instead of as pairs, and
the sparse walks set their bits by one scatter into the packed rows, never a dense bool table.
"""

from __future__ import annotations

import numpy as np

from lmc.grammars.class_trie import ClassTrie, class_trie
from lmc.grammars.moore import refine
from lmc.grammars.rows import row_groups
from lmc.grammars.trie_walk import (
    SMALL_REACH,
    Trie,
    node_states,
    reach_bound,
    walk_levels,
    walk_pairs,
)
from lmc.grammars.vocab import Vocabulary

WIDE = 16  # live bytes from which a state counts as free text (its walk may be long)
MAX_SPLIT = 8  # more bytes ending free text than this: bounded text, split every rare byte
DENSE_CHUNK = 16  # starts walked over the whole trie at once (memory: 16 x nodes x 4 bytes)


def build_masks(vocab: Vocabulary, trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Packed allowed-token bits `[n + 1, ceil(vocab_size / 8)]` (little bit order), one row per
    byte-DFA state plus a final row for "after EOS" that allows only EOS.

    A token is allowed when its bytes keep the text completable by *some token sequence*; with a
    byte-fallback vocabulary every live byte state qualifies, otherwise states from which no
    token path reaches acceptance are pruned first.
    """
    n = trans.shape[0]
    live = np.ones(n, dtype=bool) if vocab.has_all_bytes else _token_live(vocab, trans, accepting)
    split = _split_bytes(vocab, trans)
    common = trans.copy()
    common[:, split] = -1
    packed = np.zeros((n + 1, (vocab.vocab_size + 7) // 8), dtype=np.uint8)
    packed[:n] = _class_masks(vocab, common, live, horizon_classes(common, live, vocab.max_len))
    if len(split):
        states = np.arange(n)
        _set_pair_bits(vocab, vocab.subtrie_holding(split), trans, live, states, states[live], packed)
    eos_byte, eos_bit = divmod(vocab.eos_token_id, 8)
    packed[:n, eos_byte] &= ~np.uint8(1 << eos_bit)
    packed[:n, eos_byte] |= (accepting & live).astype(np.uint8) << eos_bit
    packed[n, eos_byte] = 1 << eos_bit
    return packed


def _split_bytes(vocab: Vocabulary, trans: np.ndarray) -> np.ndarray:
    """The rare bytes walked per state; tokens without them are walked once per class of states
    that agree on such tokens. Ideally only the bytes by which free text ends: `"` ends a JSON
    string body, and the key after it is what sets the bodies of two fields apart, while `,` or
    a multi-byte character leaves the body as it was. So: the rare ASCII bytes that take some
    free-text state (many common-byte edges) to a state that is not one. When text of bounded
    length ends on nearly any byte, sharing is mostly lost anyway, and all rare bytes split."""
    rare = vocab.rare_bytes
    wide = (trans[:, vocab.common_bytes] >= 0).sum(axis=1) >= WIDE
    after = trans[wide][:, rare]
    ends = rare[((after >= 0) & ~np.append(wide, True)[after]).any(axis=0) & (rare < 0x80)]
    return ends if len(ends) <= MAX_SPLIT else rare


def _class_masks(vocab: Vocabulary, trans: np.ndarray, live: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Packed rows `[n, ceil(vocab_size / 8)]` of the tokens that `trans` takes from each state
    to a live one (through the class trie where it pays). Only one state per class is walked:
    the others get a copy of its row. Starts that reach most of the trie walk all of it
    (`_dense_rows`); the rest set their few bits one by one."""
    _, reps, classes = np.unique(classes, return_index=True, return_inverse=True)
    walked = np.flatnonzero(live[reps])
    wide = ((trans[reps[walked]] >= 0).sum(axis=1) >= WIDE).any()
    merged = class_trie(vocab, trans) if wide else None
    if merged is not None:
        packed = np.packbits(_class_trie_bits(merged, trans, live, reps, walked), axis=1, bitorder="little")
    else:
        packed = np.zeros((len(reps), (vocab.vocab_size + 7) // 8), dtype=np.uint8)
        far = reach_bound(vocab, trans, reps[walked]) >= SMALL_REACH * vocab.num_nodes
        packed[walked[far]] = _dense_rows(vocab, trans, live, reps[walked[far]])
        _set_pair_bits(vocab, vocab.trie, trans, live, reps, walked[~far], packed)
    return packed[classes.reshape(-1)]


def _dense_rows(vocab: Vocabulary, trans: np.ndarray, live: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Packed rows for `starts` by walking the whole trie from each (for starts that reach most
    of it), a few at a time to bound memory. A token is read at its own node, so tokens with
    equal bytes need no copying."""
    live_or_dead = np.append(live, False)
    rows = np.zeros((len(starts), (vocab.vocab_size + 7) // 8), dtype=np.uint8)
    for lo in range(0, len(starts), DENSE_CHUNK):
        bits = live_or_dead[node_states(vocab, trans, starts[lo : lo + DENSE_CHUNK])[:, vocab.token_node]]
        rows[lo : lo + DENSE_CHUNK] = np.packbits(bits, axis=1, bitorder="little")
    return rows


def _set_pair_bits(vocab: Vocabulary, trie: Trie, trans: np.ndarray, live: np.ndarray, reps: np.ndarray, walked: np.ndarray, packed: np.ndarray) -> None:
    """OR into `packed[walked]` the tokens `trie` leads to from those rows' states: the (start,
    node) pairs where a token ends are gathered over all depths, then spread to every token
    spelled by the node (duplicates included) and set with one scatter."""
    cols, nodes = [], []
    for pairs in walk_pairs(trie, trans, reps[walked]):
        ends = np.flatnonzero((vocab.tok_hi[pairs.node] > vocab.tok_lo[pairs.node]) & live[pairs.state])
        cols.append(pairs.col[ends])
        nodes.append(pairs.node[ends])
    node = np.concatenate(nodes)
    first, count = vocab.tok_lo[node], vocab.tok_hi[node] - vocab.tok_lo[node]
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    token = vocab.order[np.repeat(first, count) + offset]
    row = walked[np.repeat(np.concatenate(cols), count)]
    np.bitwise_or.at(packed, (row, token >> 3), np.left_shift(1, token & 7).astype(np.uint8))


def _class_trie_bits(merged: ClassTrie, trans: np.ndarray, live: np.ndarray, reps: np.ndarray, walked: np.ndarray) -> np.ndarray:
    """`[reps, vocab]` allowed bits from a walk of the class trie: per class node, then spread
    to the tokens (a token's class node carries its answer; -1 reads the final False column)."""
    node_bits = np.zeros((len(reps), len(merged.ends) + 1), dtype=bool)
    for pairs in walk_pairs(merged.trie, trans, reps[walked]):
        ends = np.flatnonzero(merged.ends[pairs.node] & live[pairs.state])
        node_bits[walked[pairs.col[ends]], pairs.node[ends]] = True
    return node_bits[:, merged.token_node]


def horizon_classes(trans: np.ndarray, live: np.ndarray, horizon: int) -> np.ndarray:
    """Class per state such that two states of one class agree on which byte strings of length
    <= `horizon` keep them live, hence allow the same tokens (Moore rounds stopped at depth).
    Bytes with equal columns are interchangeable, so one column per byte class is enough."""
    byte_class = row_groups(trans.T)
    columns = trans[:, np.unique(byte_class, return_index=True)[1]]
    return refine(columns, row_groups(live[:, None]), horizon)


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
