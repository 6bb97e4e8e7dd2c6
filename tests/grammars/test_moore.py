"""Moore refinement checked against the definition of state equivalence: two states are one block
iff every word (up to the table's size, which is enough) ends both in the same initial block, or
falls off both (a missing edge counts as a block of its own)."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.grammars import moore


@st.composite
def tables(draw) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 2))
    trans = np.array(draw(st.lists(st.integers(-1, n - 1), min_size=n * k, max_size=n * k)), dtype=np.int64).reshape(n, k)
    accepting = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return trans, accepting


def _equivalent(trans: np.ndarray, accepting: np.ndarray, s: int, t: int, length: int) -> bool:
    def outcome(state: int, word: tuple[int, ...]) -> str:
        for c in word:
            state = int(trans[state, c])
            if state < 0:
                return "dead"
        return "accept" if accepting[state] else "reject"

    words = (w for n in range(length + 1) for w in product(range(trans.shape[1]), repeat=n))
    return all(outcome(s, w) == outcome(t, w) for w in words)


@pytest.mark.parametrize("small_table", [0, 10_000])  # the numpy rounds, then the Python ones
@settings(max_examples=60, deadline=None)
@given(table=tables())
def test_refine_splits_exactly_the_inequivalent_states(table, small_table: int) -> None:
    trans, accepting = table
    saved, moore.SMALL_TABLE = moore.SMALL_TABLE, small_table
    try:
        block = moore.refine(trans, accepting.astype(np.int64))
        one_round = moore.refine(trans, accepting.astype(np.int64), rounds=1)
    finally:
        moore.SMALL_TABLE = saved
    n = len(trans)
    for s in range(n):
        for t in range(n):
            assert (block[s] == block[t]) == _equivalent(trans, accepting, s, t, n), (s, t)
            assert (one_round[s] == one_round[t]) == _equivalent(trans, accepting, s, t, 1), (s, t)
    assert sorted(set(block.tolist())) == list(range(len(set(block.tolist()))))
