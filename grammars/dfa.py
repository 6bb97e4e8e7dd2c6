"""Character-level DFAs: the data, subset construction from an NFA, and trimming of dead states.

A DFA is a table `trans[state, class]` (-1: no way forward) over the alphabet's character
classes. Invariant after `trim`: every state can still reach an accepting state, so "has a
transition" means "keeps the text completable", which is exactly what a constraint must check.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lmc.grammars.errors import ConstraintError
from lmc.grammars.nfa import NFA

MAX_DFA_STATES = 200_000


@dataclass(frozen=True)
class CharDFA:
    """A DFA over code points; state 0 is initial.

    `starts[k]` is the first code point of elementary interval k and `classes[k]` its class;
    `tags[s]` is the set of pattern indices accepted in state s (empty: not accepting).
    """

    starts: tuple[int, ...]
    classes: tuple[int, ...]
    trans: np.ndarray
    tags: tuple[frozenset[int], ...]

    @property
    def num_states(self) -> int:
        return int(self.trans.shape[0])

    @property
    def num_transitions(self) -> int:
        """Live (state, class) edges; a class may hold many code points."""
        return int(np.count_nonzero(self.trans >= 0))

    @property
    def accepting(self) -> np.ndarray:
        return np.array([bool(t) for t in self.tags], dtype=bool)

    def class_of(self, ch: str) -> int:
        return self.classes[bisect_right(self.starts, ord(ch)) - 1]

    def run(self, text: str, state: int = 0) -> int:
        """The state after `text` from `state`, or -1 once the text cannot be completed."""
        for ch in text:
            state = int(self.trans[state, self.class_of(ch)])
            if state < 0:
                return -1
        return state

    def fullmatch(self, text: str) -> bool:
        state = self.run(text)
        return state >= 0 and bool(self.tags[state])


def determinize(nfa: NFA, num_classes: int) -> tuple[np.ndarray, list[frozenset[int]]]:
    """Subset construction; a DFA state is the set of NFA states that have a labelled edge or
    accept (the rest of an epsilon closure cannot tell two sets apart)."""
    important = [lab is not None or q in nfa.accept for q, lab in enumerate(nfa.label)]
    closures: dict[frozenset[int], frozenset[int]] = {}

    def closure(seeds: frozenset[int]) -> frozenset[int]:
        found = closures.get(seeds)
        if found is not None:
            return found
        seen = set(seeds)
        stack = list(seeds)
        while stack:
            for r in nfa.eps[stack.pop()]:
                if r not in seen:
                    seen.add(r)
                    stack.append(r)
        found = frozenset(q for q in seen if important[q])
        closures[seeds] = found
        return found

    first = closure(frozenset([nfa.start]))
    ids = {first: 0}
    order = [first]
    rows: list[list[int]] = []
    for key in order:
        row = [-1] * num_classes
        for targets, classes in _moves(nfa, key):
            nxt = closure(targets)
            if nxt not in ids:
                if len(order) >= MAX_DFA_STATES:
                    raise ConstraintError(
                        f"the pattern needs more than {MAX_DFA_STATES} DFA states; simplify it "
                        "(long counted repetitions of alternatives are the usual cause)"
                    )
                ids[nxt] = len(order)
                order.append(nxt)
            target = ids[nxt]
            for c in classes:
                row[c] = target
        rows.append(row)
    trans = np.array(rows, dtype=np.int32).reshape(len(rows), num_classes)
    tags = [frozenset(nfa.accept[q] for q in key if q in nfa.accept) for key in order]
    return trans, tags


def _moves(nfa: NFA, key: frozenset[int]) -> list[tuple[frozenset[int], Iterable[int]]]:
    """`(NFA targets, classes that lead there)` out of the DFA state `key`. Labels are grouped
    first: a JSON string body's `[^"\\]` spans dozens of classes, and one closure serves them
    all unless another label of the state overlaps it (then targets are merged per class)."""
    by_label: dict[frozenset[int], set[int]] = {}
    for q in key:
        lab = nfa.label[q]
        if lab:
            by_label.setdefault(lab, set()).add(nfa.target[q])
    if len(by_label) < 2 or sum(map(len, by_label)) == len(frozenset().union(*by_label)):
        return [(frozenset(targets), lab) for lab, targets in by_label.items()]
    per_class: dict[int, set[int]] = {}
    for lab, targets in by_label.items():
        for c in lab:
            per_class.setdefault(c, set()).update(targets)
    grouped: dict[frozenset[int], list[int]] = {}
    for c, targets in per_class.items():
        grouped.setdefault(frozenset(targets), []).append(c)
    return list(grouped.items())


def trim(trans: np.ndarray, tags: list[frozenset[int]]) -> tuple[np.ndarray, list[frozenset[int]]]:
    """Drop states that cannot reach acceptance; state 0 stays 0 (alone if nothing matches)."""
    n = trans.shape[0]
    src, _ = np.nonzero(trans >= 0)
    dst = trans[trans >= 0]
    by_dst = np.argsort(dst, kind="stable")
    preds = src[by_dst].tolist()
    bounds = np.searchsorted(dst[by_dst], np.arange(n + 1)).tolist()
    live = bytearray(bool(t) for t in tags)
    queue = [s for s in range(n) if live[s]]
    while queue:
        q = queue.pop()
        for p in preds[bounds[q] : bounds[q + 1]]:
            if not live[p]:
                live[p] = True
                queue.append(p)
    live = np.frombuffer(bytes(live), dtype=bool)
    if not live[0]:
        return np.full((1, trans.shape[1]), -1, dtype=np.int32), [frozenset()]
    keep = np.flatnonzero(live)
    remap = np.full(n + 1, -1, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    return remap[trans[keep]], [tags[s] for s in keep]
