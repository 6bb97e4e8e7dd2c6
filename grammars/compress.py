"""The compressed FSM: chains of singular transitions merged into forced strings.

A state is *singular* when it is not accepting and has exactly one outgoing byte: the output is
then determined until the chain reaches a state with a choice (or an accepting one). Every state
gets its forced bytes precomputed as a slice of one shared buffer, so `forced_run` is one slice,
not a walk. The text form stops at the last character boundary of the chain: a jump can only
append whole characters, and the state reached there is `text_state`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmc.grammars.byte_dfa import ByteDFA


@dataclass(frozen=True)
class ForcedRuns:
    """Per state: the forced bytes begin at `buffer[start]`; the first `text_length` of them end
    on a character boundary, in state `text_state` (only that text is ever jumped over)."""

    buffer: bytes
    start: np.ndarray
    text_length: np.ndarray
    text_state: np.ndarray

    def forced_text(self, state: int) -> tuple[str, int]:
        """The forced text and the state after it ("" and `state` when there is a choice)."""
        n = int(self.text_length[state])
        if n == 0:
            return "", state
        s = int(self.start[state])
        return self.buffer[s : s + n].decode("utf-8"), int(self.text_state[state])


def forced_runs(dfa: ByteDFA) -> ForcedRuns:
    """Follow every singular chain once (shortest first, so each state extends a finished one)."""
    n = dfa.num_states
    live = dfa.trans >= 0
    only = live.argmax(axis=1)
    single = (live.sum(axis=1) == 1) & ~dfa.accepting
    nxt = np.where(single, dfa.trans[np.arange(n), only], -1)
    length = _chain_lengths(nxt)
    chars = dfa.num_char_states
    text_length = [0] * n
    text_state = list(range(n))
    after = nxt.tolist()
    for s in np.argsort(length, kind="stable").tolist():
        t = after[s]
        if t < 0:
            continue
        if text_length[t] > 0:
            text_length[s], text_state[s] = 1 + text_length[t], text_state[t]
        elif t < chars:
            text_length[s], text_state[s] = 1, t
    text_length[chars:] = [0] * (n - chars)
    text_state[chars:] = range(chars, n)
    buffer, start = _layout(nxt, only, length)
    return ForcedRuns(buffer, start, np.array(text_length, dtype=np.int32), np.array(text_state, dtype=np.int32))


def _chain_lengths(nxt: np.ndarray) -> np.ndarray:
    """Bytes forced from each state; chains end (no cycles) because the DFA has no dead states."""
    after = nxt.tolist()
    length = [-1] * len(after)
    for s in range(len(after)):
        path = []
        while s >= 0 and length[s] < 0:
            path.append(s)
            s = after[s]
        base = length[s] if s >= 0 else -1
        for p in reversed(path):
            base += 1
            length[p] = base
    return np.array(length, dtype=np.int32)


def _layout(nxt: np.ndarray, only: np.ndarray, length: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Write each longest chain once; a state's bytes are a suffix of the first chain through it."""
    after, byte, start = nxt.tolist(), only.tolist(), [-1] * len(nxt)
    out = bytearray()
    for s in np.argsort(-length, kind="stable").tolist():
        if start[s] >= 0 or length[s] == 0:
            continue
        while s >= 0 and after[s] >= 0:
            if start[s] < 0:
                start[s] = len(out)
            out.append(byte[s])
            s = after[s]
    return bytes(out), np.array([len(out) if x < 0 else x for x in start], dtype=np.int64)
