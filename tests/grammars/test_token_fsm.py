"""Token-level tables over the Mistral v1 vocabulary: masks, advance, EOS, jump-forward, cache."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.grammars import TokenFSM, compile_constraint

EOS = 2
VOCAB = 32064  # larger than the tokenizer's 32000, as model vocabularies often are


def fsm(pattern: str, token_bytes: list[bytes]) -> TokenFSM:
    c = compile_constraint(regex=pattern, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=VOCAB)
    assert isinstance(c, TokenFSM)
    return c


TOKEN_PATTERNS = [
    r"[a-z]{2,6}( [a-z]{1,4}){0,3}",
    r"(yes|no|maybe)\.",
    r"-?(0|[1-9][0-9]*)(\.[0-9]+)?",
    r'\{"name":"[^"]{0,12}","id":[0-9]{1,3}\}',
    r"(é|中文|😀)+[ab]?",
    r"[^\x00-\x7f]{1,3}",
    r"\d{3}-\d{4}",
    r"(?:Hello|Hi), [A-Z][a-z]*!",
]


@settings(max_examples=40, deadline=None)
@given(pattern=st.sampled_from(TOKEN_PATTERNS), seed=st.integers(0, 2**32))
def test_random_walks_fullmatch(token_bytes, walk, pattern: str, seed: int) -> None:
    c = fsm(pattern, token_bytes)
    rng = random.Random(seed)
    for _ in range(5):
        out = walk(c, token_bytes, EOS, rng)
        if out is not None:
            assert re.fullmatch(pattern, out.decode("utf-8"), re.ASCII), out


@pytest.mark.parametrize(
    "pattern",
    [
        r'\{"name":"[^"]{0,12}","id":[0-9]{1,3}\}',
        r'\{"a": "(?:[^"\\]|\\["\\n])*", "bb": "(?:[^"\\]|\\["\\n])*", "c": \[(?:"[^"]*"(?:, "[^"]*")*)?\]\}',
        r"[A-Z][a-z]+( [a-z]+){2,8}\.",
        r"[a-z0-9._]{1,30}@[a-z0-9-]{1,20}\.(com|org|net)",
    ],
)
def test_masks_match_a_brute_force_check(token_bytes, pattern: str) -> None:
    """For sampled states, a token is allowed iff its bytes keep the byte DFA alive (string
    bodies told apart only by what follows their closing quote; few byte classes; bounds)."""
    c = fsm(pattern, token_bytes)
    rng = random.Random(0)
    states = rng.sample(range(c.dfa.num_states), min(25, c.dfa.num_states))
    for s in states:
        mask = c.allowed_tokens(s).numpy()
        assert mask.shape == (VOCAB,)
        for t in rng.sample(range(len(token_bytes)), 800) + list(range(3, 259)):
            b = token_bytes[t]
            expected = bool(b) and c.dfa.run(b, s) >= 0
            if t == EOS:
                expected = c.is_accepting(s)
            assert mask[t] == expected, (s, t, b)
        assert not mask[len(token_bytes) :].any()


def test_eos_only_in_accepting_states(token_bytes) -> None:
    c = fsm(r"ab(c|d)?", token_bytes)
    s = c.state_after_text(0, "ab")
    assert c.is_accepting(s) and c.allowed_tokens(s)[EOS]
    assert not c.allowed_tokens(0)[EOS]
    assert not c.allowed_tokens(0)[1] and not c.allowed_tokens(0)[0]  # BOS / UNK contribute nothing
    done = c.advance(s, EOS)
    assert c.is_terminal(done) and c.is_accepting(done)
    end = c.state_after_text(s, "c")
    assert c.is_terminal(end) and c.allowed_token_ids(end).tolist() == [EOS]
    with pytest.raises(ValueError):
        c.advance(0, EOS)


def test_byte_fallback_tokens_spell_multibyte_characters(token_bytes) -> None:
    c = fsm("中+", token_bytes)
    byte_ids = {b[0]: i for i, b in enumerate(token_bytes) if len(b) == 1 and i > 2}
    s = 0
    for byte in "中".encode():
        assert c.allowed_tokens(s)[byte_ids[byte]]
        s = c.advance(s, byte_ids[byte])
    assert c.is_accepting(s)


def test_fill_mask_equals_allowed_tokens(token_bytes) -> None:
    c = fsm(r"[a-z]{2,6}( [a-z]{1,4}){0,3}", token_bytes)
    states = [0, 1, 2, c.done_state, 0]
    out = torch.zeros(len(states), VOCAB, dtype=torch.bool)
    c.fill_mask(states, out)
    for row, s in zip(out, states):
        assert torch.equal(row, c.allowed_tokens(s))


@settings(max_examples=25, deadline=None)
@given(pattern=st.sampled_from(TOKEN_PATTERNS + [r'\{"a":(true|false),"bb":\[1,2\]\}', "prefix-(x|y)-suffix"]), seed=st.integers(0, 2**32))
def test_forced_runs_are_the_only_way_forward(token_bytes, pattern: str, seed: int) -> None:
    c = fsm(pattern, token_bytes)
    rng = random.Random(seed)
    for s in rng.sample(range(c.dfa.num_char_states), min(30, c.dfa.num_char_states)):
        text, after = c.forced_jump(s)
        assert c.forced_run(s) == text
        if not text:
            continue
        assert c.state_after_text(s, text) == after
        # Every allowed token agrees with the forced text on their common prefix.
        forced = text.encode()
        for t in c.allowed_token_ids(s).tolist():
            b = token_bytes[t]
            assert t != EOS and (forced.startswith(b) or b.startswith(forced)), (text, b)
        # And each proper prefix step has exactly one live byte.
        state = s
        for byte in forced:
            assert (c.dfa.trans[state] >= 0).sum() == 1 and not c.is_accepting(state)
            state = int(c.dfa.trans[state, byte])


def test_jump_forward_on_a_json_skeleton(token_bytes) -> None:
    c = fsm(r'\{"name":"[a-z]+","age":[0-9]+\}', token_bytes)
    assert c.forced_run(0) == '{"name":"'
    s = c.state_after_text(0, '{"name":"bob')
    s2 = c.state_after_text(s, '"')
    assert c.forced_run(s2) == ',"age":'
    with pytest.raises(ValueError):
        c.state_after_text(0, '{"nam3')


def test_disk_cache_round_trip(token_bytes, tmp_path) -> None:
    from lmc.grammars.compile import _constraints

    pattern = r"(red|green|blue)-[0-9]{2}"
    first = compile_constraint(regex=pattern, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=VOCAB, cache_dir=tmp_path)
    assert list(tmp_path.glob("*.fsm"))
    _constraints.clear()
    second = compile_constraint(regex=pattern, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=VOCAB, cache_dir=tmp_path)
    assert first is not second
    assert np.array_equal(first.packed, second.packed)
    assert all(first.forced_jump(s) == second.forced_jump(s) for s in range(first.dfa.num_states))


SMALL_VOCAB = [b"", b"", b""] + [bytes([i]) for i in range(256)] + [
    s.encode() for s in ["ab", "abc", "bc", "a.", "..", "é", "中文", "1a", "aa", "aaa", " a", "\n\n", "😀x", "c\u00e9"]
]


@settings(max_examples=60, deadline=None)
@given(pattern=st.recursive(
    st.sampled_from(["a", "b", "c", ".", "[ab]", "[^a]", r"\d", "é", "中", r"\."]),
    lambda ch: st.one_of(
        st.tuples(ch, ch).map("".join),
        st.tuples(ch, ch).map(lambda t: f"(?:{t[0]}|{t[1]})"),
        st.tuples(ch, st.sampled_from(["*", "+", "?", "{2}", "{0,3}"])).map(lambda t: f"(?:{t[0]}){t[1]}"),
    ),
    max_leaves=6,
))
def test_masks_equal_brute_force_on_a_small_vocabulary(pattern: str) -> None:
    c = compile_constraint(regex=pattern, token_bytes=SMALL_VOCAB, eos_token_id=EOS, vocab_size=len(SMALL_VOCAB) + 5)
    for s in range(c.dfa.num_states):
        mask = c.allowed_tokens(s).numpy()
        expected = [bool(b) and c.dfa.run(b, s) >= 0 for b in SMALL_VOCAB] + [False] * 5
        expected[EOS] = c.is_accepting(s)
        assert mask.tolist() == expected, (pattern, s)
        text, after = c.forced_jump(s)
        assert (text == "") == (after == s)


def test_without_byte_fallback_token_dead_states_are_pruned() -> None:
    vocab = [b"", b"", b"", b"a", b"b", b"e"]
    c = compile_constraint(regex="a(?:bc|e)", token_bytes=vocab, eos_token_id=EOS, vocab_size=len(vocab))
    after_a = c.advance(0, 3)
    assert c.allowed_token_ids(after_a).tolist() == [5]  # "b" would need a "c" token: none exists
    with pytest.raises(Exception, match="no sequence"):
        compile_constraint(regex="abc", token_bytes=vocab, eos_token_id=EOS, vocab_size=len(vocab))
