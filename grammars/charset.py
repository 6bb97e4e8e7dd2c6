"""Sets of Unicode code points as sorted disjoint intervals.

Regexes name characters in sets (`[a-z]`, `\\w`, `.`, `[^"]`); keeping them as intervals rather
than as members is what lets `.` and negated classes cover all of Unicode without exploding.
Invariant: intervals are inclusive, sorted, non-overlapping and non-adjacent (normalized), so two
equal sets have equal tuples and can key dictionaries.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_CODE_POINT = 0x10FFFF

CharSet = tuple[tuple[int, int], ...]


def normalize(intervals: Iterable[tuple[int, int]]) -> CharSet:
    """Sort and merge overlapping or touching intervals."""
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def single(ch: str) -> CharSet:
    return ((ord(ch), ord(ch)),)


def union(*sets: CharSet) -> CharSet:
    return normalize(iv for s in sets for iv in s)


def complement(s: CharSet) -> CharSet:
    """All code points (0..U+10FFFF) not in `s`."""
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in s:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CODE_POINT:
        out.append((nxt, MAX_CODE_POINT))
    return tuple(out)


def contains(s: CharSet, cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in s)


# The escapes follow Python's `re.ASCII` meaning: constraints want `\d` to be 0-9, not every
# Unicode digit a model could emit.
DIGIT: CharSet = ((0x30, 0x39),)
WORD: CharSet = normalize([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
SPACE: CharSet = normalize([(0x09, 0x0D), (0x20, 0x20)])
DOT: CharSet = complement(single("\n"))
