"""Partition Unicode into the character classes a pattern can tell apart.

A DFA over code points would need 1.1 million columns; a DFA over the classes induced by the
pattern's character sets needs one column per class (two code points are in the same class when
every set of the pattern contains both or neither). `.` and negated classes stay cheap: they
are a handful of intervals, hence a handful of classes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from lmc.grammars.charset import MAX_CODE_POINT, CharSet
from lmc.grammars.rows import row_groups


@dataclass(frozen=True)
class Alphabet:
    """Elementary intervals (`starts[k]` up to `starts[k+1] - 1`) and the class of each.

    `members[set]` are the class ids a character set of the pattern covers.
    """

    starts: tuple[int, ...]
    classes: tuple[int, ...]
    num_classes: int
    members: dict[CharSet, frozenset[int]] = field(repr=False)

    def class_of(self, cp: int) -> int:
        return self.classes[bisect_right(self.starts, cp) - 1]

    def intervals(self) -> list[tuple[int, int, int]]:
        """`(lo, hi, class)` for every elementary interval, in code point order."""
        ends = [*self.starts[1:], MAX_CODE_POINT + 1]
        return [(lo, end - 1, c) for lo, end, c in zip(self.starts, ends, self.classes)]


def build_alphabet(sets: Iterable[CharSet]) -> Alphabet:
    """The coarsest partition that every set in `sets` is a union of classes of."""
    unique = list(dict.fromkeys(sets))
    bounds = {0, MAX_CODE_POINT + 1}
    for s in unique:
        for lo, hi in s:
            bounds.update((lo, hi + 1))
    starts = sorted(bounds)[:-1]
    index = {cp: k for k, cp in enumerate(starts)}
    cover = np.zeros((len(starts), len(unique)), dtype=bool)
    for j, s in enumerate(unique):
        for lo, hi in s:
            cover[index[lo] : index.get(hi + 1, len(starts)), j] = True
    classes = row_groups(cover)
    num_classes = int(classes.max()) + 1
    set_of, interval = np.nonzero(cover.T)  # one np.unique for all sets, not one per set
    pairs = np.unique(set_of * num_classes + classes[interval])
    cuts = np.searchsorted(pairs // num_classes, np.arange(len(unique) + 1)).tolist()
    ids = (pairs % num_classes).tolist()
    members = {s: frozenset(ids[cuts[j] : cuts[j + 1]]) for j, s in enumerate(unique)}
    return Alphabet(tuple(starts), tuple(classes.tolist()), num_classes, members)
