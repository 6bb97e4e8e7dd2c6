"""A tokenizer vocabulary as a byte trie in flat arrays, built once per tokenizer.

Walking a trie against a DFA visits each shared prefix once per state and prunes a whole subtree
as soon as its prefix dies, which is what makes per-state token tables cheap. Token ids with no
bytes (control tokens) and the EOS id are left out: they never advance a constraint's text.
Nodes are numbered depth by depth and, within a depth, in the byte order of the tokens, so the
children of a node are a contiguous id range, and so are the tokens below it in `order`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Token surface bytes plus the trie over them.

    Node k: `node_byte[k]` is the byte on the edge from its parent (root 0 has -1); its children
    are nodes `child_lo[k]:child_hi[k]`; `order[tok_lo[k]:tok_hi[k]]` are the token ids whose
    bytes are exactly this prefix and `order[tok_lo[k]:sub_hi[k]]` all ids that start with it.
    `token_node[t]` is the node where token t ends (-1 for control tokens, EOS and ids past the
    tokenizer's own vocabulary). `rows[r, :row_len[r]]` are the bytes of token `order[r]` (-1
    padded), for walking a subset of tokens without the trie.
    """

    token_bytes: list[bytes] = field(repr=False)
    eos_token_id: int
    vocab_size: int
    fingerprint: str
    order: np.ndarray = field(repr=False)
    node_byte: np.ndarray = field(repr=False)
    child_lo: np.ndarray = field(repr=False)
    child_hi: np.ndarray = field(repr=False)
    tok_lo: np.ndarray = field(repr=False)
    tok_hi: np.ndarray = field(repr=False)
    sub_hi: np.ndarray = field(repr=False)
    token_node: np.ndarray = field(repr=False)
    rows: np.ndarray = field(repr=False)
    row_len: np.ndarray = field(repr=False)

    @property
    def num_nodes(self) -> int:
        return len(self.node_byte)

    @cached_property
    def node_token(self) -> np.ndarray:
        """One token id ending at each node (-1 where none does)."""
        first = np.full(self.num_nodes, -1, dtype=np.int64)
        has = self.tok_hi > self.tok_lo
        first[has] = self.order[self.tok_lo[has]]
        return first

    @cached_property
    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """`(token, twin)` pairs: `token` has the same bytes as `twin`, which is `node_token`."""
        tokens = np.flatnonzero(self.token_node >= 0)
        twins = self.node_token[self.token_node[tokens]]
        other = twins != tokens
        return tokens[other], twins[other]

    @cached_property
    def max_len(self) -> int:
        """Bytes in the longest token: how far ahead any one token can look."""
        return max((len(b) for b in self.token_bytes), default=0)

    @cached_property
    def rare_bytes(self) -> np.ndarray:
        """Bytes found in at most 1% of the tokens (punctuation, digits, most UTF-8 lead bytes):
        where constraints differ from one another. Token tables walk them separately."""
        present = np.zeros((len(self.rows), 257), dtype=bool)
        present[np.arange(len(self.rows))[:, None], self.rows] = True  # padding (-1) lands in 256
        return np.flatnonzero(present[:, :256].sum(axis=0) <= len(self.rows) // 100)

    @cached_property
    def common_bytes(self) -> np.ndarray:
        """The bytes that are not rare."""
        return np.setdiff1d(np.arange(256), self.rare_bytes)

    @cached_property
    def parent(self) -> np.ndarray:
        """Parent node of each node (the root's is -1)."""
        up = np.repeat(np.arange(self.num_nodes, dtype=np.int32), self.child_hi - self.child_lo)
        return np.concatenate([np.array([-1], dtype=np.int32), up])

    @cached_property
    def depth_starts(self) -> list[int]:
        """Nodes of depth d are `depth_starts[d]:depth_starts[d + 1]` (numbered depth by depth)."""
        starts = [0, 1]
        while starts[-1] < self.num_nodes:
            starts.append(int(self.child_hi[starts[-1] - 1]))
        return starts

    @cached_property
    def subtree_size(self) -> np.ndarray:
        """Nodes in the subtree of each node, itself included (bounds a walk's work)."""
        size = np.ones(self.num_nodes, dtype=np.int64)
        bounds = self.depth_starts
        for lo, hi in reversed(list(zip(bounds[1:-1], bounds[2:]))):
            np.add.at(size, self.parent[lo:hi], size[lo:hi])
        return size

    @property
    def trie(self) -> tuple[np.ndarray, np.ndarray, None, np.ndarray]:
        """The whole trie in the `trie_walk.Trie` form."""
        return self.child_lo, self.child_hi, None, self.node_byte

    def subtrie_holding(self, some: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The trie cut down to the nodes with a token holding one of the bytes `some` at or
        below them, in the `trie_walk.Trie` form. Remembered per byte set (JSON schemas all ask
        for the same one or two)."""
        key = np.asarray(some, dtype=np.uint8).tobytes()
        found = self._subtries.get(key)
        if found is None:
            wanted = np.zeros(257, dtype=bool)
            wanted[np.frombuffer(key, dtype=np.uint8)] = True
            below = np.concatenate([[0], np.cumsum(wanted[self.rows].any(axis=1))])
            ids = (np.flatnonzero((below[self.sub_hi] > below[self.tok_lo])[1:]) + 1).astype(np.int32)
            lo, hi = (np.searchsorted(ids, bound).astype(np.int32) for bound in (self.child_lo, self.child_hi))
            found = self._subtries[key] = (lo, hi, ids, self.node_byte)
        return found

    @cached_property
    def _subtries(self) -> dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        return {}

    @cached_property
    def has_all_bytes(self) -> bool:
        """Every byte is a token on its own (byte fallback): any byte path is a token path."""
        single = {b for i, b in enumerate(self.token_bytes) if len(b) == 1 and i != self.eos_token_id}
        return len(single) == 256


def fingerprint(token_bytes: list[bytes], eos_token_id: int, vocab_size: int) -> str:
    """Content hash of what the token tables depend on (cache key half)."""
    h = hashlib.sha256(f"{len(token_bytes)}:{eos_token_id}:{vocab_size}:".encode())
    h.update(np.array([len(b) for b in token_bytes], dtype=np.int32).tobytes())
    h.update(b"".join(token_bytes))
    return h.hexdigest()[:32]


def build_vocabulary(token_bytes: list[bytes], eos_token_id: int, vocab_size: int) -> Vocabulary:
    if vocab_size < len(token_bytes):
        raise ValueError(f"vocab_size {vocab_size} is smaller than the {len(token_bytes)} token_bytes given")
    if not 0 <= eos_token_id < vocab_size:
        raise ValueError(f"eos_token_id {eos_token_id} is outside the vocabulary [0, {vocab_size})")
    items = sorted((b, i) for i, b in enumerate(token_bytes) if b and i != eos_token_id)
    order = np.array([i for _, i in items], dtype=np.int32)
    rows = [b for b, _ in items]
    lengths = np.array([len(b) for b in rows], dtype=np.int64)
    width = int(lengths.max()) if len(rows) else 0
    matrix = np.full((len(rows), width), -1, dtype=np.int16)
    flat = np.frombuffer(b"".join(rows), dtype=np.uint8)
    row_of = np.repeat(np.arange(len(rows)), lengths)
    col_of = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix[row_of, col_of] = flat
    *trie, row_node = _trie_levels(matrix, lengths)
    token_node = np.full(vocab_size, -1, dtype=np.int32)
    token_node[order] = row_node
    return Vocabulary(
        list(token_bytes),
        eos_token_id,
        vocab_size,
        fingerprint(token_bytes, eos_token_id, vocab_size),
        order,
        *trie,
        token_node,
        matrix,
        lengths.astype(np.int32),
    )


def _trie_levels(matrix: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Trie arrays (and each row's end node) from sorted rows: at depth d a node starts wherever
    the d-byte prefix changes.

    Rows sharing a prefix are contiguous in sorted order, and the rows that equal the prefix come
    first, so each node is a row range `[start, start + active rows)` with its exact tokens first.
    """
    n, width = matrix.shape
    node_byte, parent, tok_lo, tok_hi, sub_hi = [[-1]], [[-1]], [[0]], [[0]], [[n]]
    node_of_row = np.zeros(n, dtype=np.int64)
    row_node = np.zeros(n, dtype=np.int64)
    changed = np.zeros(n, dtype=bool)
    next_id = 1
    for d in range(1, width + 1):
        active = lengths >= d
        col = matrix[:, d - 1]
        changed |= np.concatenate([[True], col[1:] != col[:-1]])
        starts = np.flatnonzero(active & changed)
        size = np.add.reduceat(active.astype(np.int64), starts)
        exact = np.add.reduceat((lengths == d).astype(np.int64), starts)
        ids = np.arange(next_id, next_id + len(starts))
        parent.append(node_of_row[starts])
        node_byte.append(col[starts])
        tok_lo.append(starts)
        tok_hi.append(starts + exact)
        sub_hi.append(starts + size)
        node_of_row[active] = np.repeat(ids, size)
        row_node[lengths == d] = node_of_row[lengths == d]
        next_id += len(starts)
    parents = np.concatenate(parent)[1:]
    child_lo = np.searchsorted(parents, np.arange(next_id), side="left") + 1
    child_hi = np.searchsorted(parents, np.arange(next_id), side="right") + 1
    return tuple(
        np.concatenate(x).astype(np.int32) if isinstance(x, list) else x.astype(np.int32)
        for x in (node_byte, child_lo, child_hi, tok_lo, tok_hi, sub_hi, row_node)
    )
