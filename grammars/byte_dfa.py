"""Compile a character DFA into a DFA over UTF-8 bytes.

Tokens are byte strings: SentencePiece byte-fallback tokens (`<0xE4>`) carry a third of a
character, so the token tables must be computed over bytes. States `0..num_char_states-1` are the
character DFA's states (at character boundaries, same ids); the others sit inside a multi-byte
character. An inner state is keyed by what it still accepts (the remaining code point range
mapped to targets), so every char state that needs "any 2 continuation bytes, then state 7"
shares one state: `.` costs a few states, not thousands. Surrogates (U+D800..U+DFFF) and overlong
forms have no UTF-8 encoding and get no edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmc.grammars.dfa import CharDFA

Segments = tuple[tuple[int, int, int], ...]

# (length of the encoding, first code point, last code point, lead byte of block 0)
_UTF8_LENGTHS = ((1, 0x0, 0x7F, 0x00), (2, 0x80, 0x7FF, 0xC0), (3, 0x800, 0xFFFF, 0xE0), (4, 0x10000, 0x10FFFF, 0xF0))
_SURROGATES = (0xD800, 0xDFFF)


@dataclass(frozen=True)
class ByteDFA:
    """`trans[state, byte]` (-1: dead); state 0 is initial; `tags[s]` non-empty: accepting."""

    trans: np.ndarray
    tags: tuple[frozenset[int], ...]
    num_char_states: int

    @property
    def num_states(self) -> int:
        return int(self.trans.shape[0])

    @property
    def accepting(self) -> np.ndarray:
        return np.array([bool(t) for t in self.tags], dtype=bool)

    def run(self, data: bytes, state: int = 0) -> int:
        """The state after `data` from `state`, or -1 once it cannot be completed."""
        trans = self.trans
        for b in data:
            state = int(trans[state, b])
            if state < 0:
                return -1
        return state


def to_byte_dfa(dfa: CharDFA) -> ByteDFA:
    """The byte-level DFA accepting the UTF-8 encodings of the strings `dfa` accepts.

    The ASCII columns are one gather for all states; only states with an edge above U+007F
    (free text, `.`, negated classes) go through the per-state multi-byte construction."""
    n = dfa.num_states
    ends = [*dfa.starts[1:], 0x110000]
    intervals = [(lo, end - 1, c) for lo, end, c in zip(dfa.starts, ends, dfa.classes)]
    head = np.full((n, 256), -1, dtype=np.int32)
    ascii_class = np.array(dfa.classes)[np.searchsorted(dfa.starts, np.arange(0x80), side="right") - 1]
    head[:, :0x80] = dfa.trans[:, ascii_class]
    wide = _clip(tuple(intervals), 0x80, _SURROGATES[0] - 1) + _clip(tuple(intervals), _SURROGATES[1] + 1, 0x10FFFF)
    wide_classes = sorted({c for _, _, c in wide})
    builder = _Builder(n)
    for s in np.flatnonzero((dfa.trans[:, wide_classes] >= 0).any(axis=1)).tolist():
        segments = _segments(dfa.trans[s].tolist(), wide)
        for length, lo, hi, lead0 in _UTF8_LENGTHS[1:]:
            for first, last, sub in _split(_clip(segments, lo, hi), 64 ** (length - 1)):
                head[s, lead0 + first : lead0 + last + 1] = builder.inner(length - 1, sub)
    trans = np.concatenate([head, *(row[None, :] for row in builder.rows)]) if builder.rows else head
    tags = dfa.tags + (frozenset(),) * (trans.shape[0] - n)
    return ByteDFA(trans, tags, n)


class _Builder:
    """Rows of the states inside a multi-byte character (ids from `first_id` on), shared by
    what they accept."""

    def __init__(self, first_id: int) -> None:
        self.first_id = first_id
        self.rows: list[np.ndarray] = []
        self.memo: dict[tuple[int, Segments], int] = {}

    def inner(self, remaining: int, segments: Segments) -> int:
        """The state that still needs `remaining` continuation bytes; `segments` are relative to
        the first code point of its block of 64**remaining."""
        key = (remaining, segments)
        found = self.memo.get(key)
        if found is not None:
            return found
        row = np.full(256, -1, dtype=np.int32)
        self.rows.append(row)
        idx = self.first_id + len(self.rows) - 1
        self.memo[key] = idx
        if remaining == 1:
            for lo, hi, t in segments:
                row[0x80 + lo : 0x80 + hi + 1] = t
        else:
            for first, last, sub in _split(segments, 64 ** (remaining - 1)):
                row[0x80 + first : 0x80 + last + 1] = self.inner(remaining - 1, sub)
        return idx


def _segments(row: list[int], intervals: Segments) -> Segments:
    """`(lo, hi, target)` code point runs of `intervals` (`(lo, hi, class)`) with a live target."""
    out: list[tuple[int, int, int]] = []
    for lo, hi, c in intervals:
        t = row[c]
        if t < 0:
            continue
        if out and out[-1][2] == t and out[-1][1] == lo - 1:
            out[-1] = (out[-1][0], hi, t)
        else:
            out.append((lo, hi, t))
    return tuple(out)


def _clip(segments: Segments, first: int, last: int) -> Segments:
    return tuple((max(lo, first), min(hi, last), t) for lo, hi, t in segments if hi >= first and lo <= last)


def _split(segments: Segments, size: int) -> list[tuple[int, int, Segments]]:
    """Cut segments at blocks of `size` code points: `(first block, last block, segments
    relative to the block start)`. A run of blocks one segment covers whole is one entry, so
    `.` over the astral planes costs a slice assignment, not thousands of tuples."""
    partial: dict[int, list[tuple[int, int, int]]] = {}
    runs: list[tuple[int, int, Segments]] = []
    for lo, hi, t in segments:
        first, last = lo // size, hi // size
        full_lo = first if lo % size == 0 else first + 1
        full_hi = last if hi % size == size - 1 else last - 1
        if full_lo <= full_hi:
            runs.append((full_lo, full_hi, ((0, size - 1, t),)))
        for block in {first, last} - set(range(full_lo, full_hi + 1)):
            base = block * size
            partial.setdefault(block, []).append((max(lo, base) - base, min(hi, base + size - 1) - base, t))
    return runs + [(block, block, tuple(sorted(parts))) for block, parts in partial.items()]
