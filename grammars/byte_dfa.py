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
    """The byte-level DFA accepting the UTF-8 encodings of the strings `dfa` accepts."""
    builder = _Builder(dfa.num_states)
    for s in range(dfa.num_states):
        segments = _segments(dfa, s)
        for length, first, last, lead0 in _UTF8_LENGTHS:
            part = _clip(segments, first, last)
            if length == 1:
                for lo, hi, t in part:
                    builder.rows[s][lo : hi + 1] = t
                continue
            for first, last, sub in _split(part, 64 ** (length - 1)):
                builder.rows[s][lead0 + first : lead0 + last + 1] = builder.inner(length - 1, sub)
    trans = np.stack(builder.rows).astype(np.int32)
    tags = dfa.tags + (frozenset(),) * (trans.shape[0] - dfa.num_states)
    return ByteDFA(trans, tags, dfa.num_states)


class _Builder:
    """Rows of the byte table, with inner states shared by what they accept."""

    def __init__(self, num_char_states: int) -> None:
        self.rows = [np.full(256, -1, dtype=np.int32) for _ in range(num_char_states)]
        self.memo: dict[tuple[int, Segments], int] = {}

    def inner(self, remaining: int, segments: Segments) -> int:
        """The state that still needs `remaining` continuation bytes; `segments` are relative to
        the first code point of its block of 64**remaining."""
        key = (remaining, segments)
        found = self.memo.get(key)
        if found is not None:
            return found
        idx = len(self.rows)
        self.rows.append(np.full(256, -1, dtype=np.int32))
        self.memo[key] = idx
        if remaining == 1:
            for lo, hi, t in segments:
                self.rows[idx][0x80 + lo : 0x80 + hi + 1] = t
        else:
            for first, last, sub in _split(segments, 64 ** (remaining - 1)):
                self.rows[idx][0x80 + first : 0x80 + last + 1] = self.inner(remaining - 1, sub)
        return idx


def _segments(dfa: CharDFA, state: int) -> Segments:
    """`(lo, hi, target)` code point runs with a live target, surrogates cut out."""
    ends = [*dfa.starts[1:], 0x110000]
    row = dfa.trans[state]
    out: list[tuple[int, int, int]] = []
    for lo, end, c in zip(dfa.starts, ends, dfa.classes):
        t = int(row[c])
        if t < 0:
            continue
        if out and out[-1][2] == t and out[-1][1] == lo - 1:
            out[-1] = (out[-1][0], end - 1, t)
        else:
            out.append((lo, end - 1, t))
    return _clip(tuple(out), 0, _SURROGATES[0] - 1) + _clip(tuple(out), _SURROGATES[1] + 1, 0x10FFFF)


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
