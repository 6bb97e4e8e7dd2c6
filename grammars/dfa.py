"""Character-level DFAs: the data and trimming of dead states (built by `glushkov`).

A DFA is a table `trans[state, class]` (-1: no way forward) over the alphabet's character
classes. Invariant after `trim`: every state can still reach an accepting state, so "has a
transition" means "keeps the text completable", which is exactly what a constraint must check.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np


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
