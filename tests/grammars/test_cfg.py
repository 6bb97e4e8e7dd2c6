"""Lark grammar constraints: random token walks parse with lark; masks agree with byte stepping."""

from __future__ import annotations

import random

import numpy as np
import pytest
from lark import Lark

from lmc.grammars import GrammarError, compile_constraint
from lmc.grammars.cfg import GrammarConstraint, grammar_text

EOS = 2


@pytest.fixture(scope="module")
def small_vocab(token_bytes) -> list[bytes]:
    """The first 4000 ids of the Mistral vocabulary: all byte tokens plus the most common merges
    (keeps CFG tests fast; masks are computed lazily per state)."""
    return token_bytes[:4000]


def cfg_walk(c: GrammarConstraint, vocab: list[bytes], rng: random.Random, max_steps: int = 150) -> bytes | None:
    """Random allowed tokens, biased to short ones and to EOS, so that walks end."""
    state, out = c.initial_state(), b""
    for _ in range(max_steps):
        allowed = c.allowed_token_ids(state)
        assert len(allowed), "a reachable state must allow some token"
        if EOS in allowed and (rng.random() < 0.4 or len(allowed) == 1):
            return out
        short = [t for t in allowed.tolist() if t != EOS and len(vocab[t]) == 1]
        choices = short if short and rng.random() < 0.7 else [t for t in allowed.tolist() if t != EOS]
        token = rng.choice(choices)
        out += vocab[token]
        state = c.advance(state, token)
    return None


@pytest.mark.parametrize("name", ["json", "arithmetic", "sql_select"])
def test_random_walks_parse_with_lark(small_vocab, name: str) -> None:
    c = compile_constraint(grammar=name, token_bytes=small_vocab, eos_token_id=EOS, vocab_size=4096)
    reference = Lark(grammar_text(name), parser="lalr")
    rng = random.Random(name)
    finished = 0
    for _ in range(6):
        out = cfg_walk(c, small_vocab, rng)
        if out is not None:
            reference.parse(out.decode("utf-8"))
            finished += 1
    assert finished >= 2


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("json", '{"a": [1, "x'), ("json", '{"a": [1, "x"'), ("json", "[tr"), ("arithmetic", "(1 + 2"), ("sql_select", "SELECT a, COUNT(")],
)
def test_masks_agree_with_byte_stepping(token_bytes, name: str, prefix: str) -> None:
    """The vectorized mask equals the slow path: a token is allowed iff its bytes can be fed."""
    c = compile_constraint(grammar=name, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    state = c.state_after_text(c.initial_state(), prefix)
    mask = c.allowed_tokens(state).numpy()
    rng = random.Random(prefix)
    sample = rng.sample(range(3, 32000), 1500) + [i for i, b in enumerate(token_bytes) if b[:1] in (b'"', b",", b")", b"]", b" ")][:1500]
    for t in sample:
        expected = bool(token_bytes[t]) and c.advance_bytes(state, token_bytes[t]) is not None
        assert mask[t] == expected, (prefix, token_bytes[t])
    assert mask[EOS] == c.is_accepting(state)


def test_accepting_terminal_and_forced(token_bytes) -> None:
    c = compile_constraint(grammar="json", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    s = c.state_after_text(c.initial_state(), "[tr")
    assert c.forced_run(s) == "ue"
    s = c.state_after_text(s, "ue]")
    assert c.is_accepting(s) and not c.is_terminal(s)  # trailing whitespace may follow
    inline = compile_constraint(grammar='start: "a" "b"', token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    assert inline.forced_run(inline.initial_state()) == "a"
    end = inline.state_after_text(inline.initial_state(), "ab")
    assert inline.is_terminal(end)
    assert np.flatnonzero(inline.allowed_tokens(end).numpy()).tolist() == [EOS]


def test_grammar_errors_teach(token_bytes) -> None:
    with pytest.raises(GrammarError, match="built-in grammars"):
        compile_constraint(grammar="no_such_grammar", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    with pytest.raises(GrammarError, match="flags"):
        compile_constraint(grammar='start: "select"i', token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    with pytest.raises(GrammarError, match="terminal WORD"):
        compile_constraint(grammar="start: WORD\nWORD: /a(?=b)b/", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
