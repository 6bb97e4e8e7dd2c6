"""Trie walks over the Mistral v1 vocabulary checked against running each token's bytes through
the byte DFA one by one, and row grouping checked against `np.unique`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lmc.grammars.byte_dfa import to_byte_dfa
from lmc.grammars.char_compile import compile_char_dfa
from lmc.grammars.rows import row_groups
from lmc.grammars.trie_walk import node_states, reach_bound, walk_pairs
from lmc.grammars.vocab import build_vocabulary

PATTERNS = [
    r'\{"a": "(?:[^"\\]|\\["\\n])*", "bb": -?(?:0|[1-9][0-9]*)\}',
    r"[A-Z][a-z]+( [a-z]+){2,8}\.",
    r"(?:é|中文)+ [^\x00-\x7f]{1,3}",
]


@pytest.fixture(scope="module")
def vocab(token_bytes):
    return build_vocabulary(token_bytes, 2, len(token_bytes))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_node_states_equal_running_each_token(vocab, token_bytes, pattern: str) -> None:
    dfa = to_byte_dfa(compile_char_dfa([pattern]))
    n = dfa.num_states
    starts = np.arange(n)
    states = node_states(vocab, dfa.trans, starts)
    tokens = np.flatnonzero(vocab.token_node >= 0)[::7]
    for s in starts:
        got = states[s, vocab.token_node[tokens]]
        expected = [dfa.run(token_bytes[t], int(s)) for t in tokens]
        assert got.tolist() == [n if e < 0 else e for e in expected], (pattern, s)
    assert (states[:, -1] == n).all()


@pytest.mark.parametrize("pattern", PATTERNS)
def test_reach_bound_is_at_least_the_walk(vocab, pattern: str) -> None:
    """The bound may overestimate (deeper deaths) but never undercount the pairs walked."""
    dfa = to_byte_dfa(compile_char_dfa([pattern]))
    starts = np.arange(dfa.num_states)
    walked = np.zeros(len(starts), dtype=np.int64)
    for pairs in walk_pairs(vocab.trie, dfa.trans, starts):
        np.add.at(walked, pairs.col, 1)
    bound = reach_bound(vocab, dfa.trans, starts)
    assert (bound >= walked).all()
    if pattern == PATTERNS[0]:
        assert bound.max() > vocab.num_nodes // 2  # a string body reaches most of the trie


@settings(max_examples=200, deadline=None)
@given(
    table=hnp.arrays(
        np.int64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
        elements=st.sampled_from([-1, 0, 1, 2, 2**40, -(2**40)]),
    )
)
def test_row_groups_equal_unique_rows(table: np.ndarray) -> None:
    _, expected = np.unique(table, axis=0, return_inverse=True)
    got = row_groups(table)
    same = expected.reshape(-1)[:, None] == expected.reshape(-1)[None, :]
    assert ((got[:, None] == got[None, :]) == same).all()
    assert sorted(set(got.tolist())) == list(range(len(set(got.tolist()))))
