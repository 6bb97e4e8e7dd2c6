"""Character and byte DFAs agree with Python's `re` on random patterns and random strings."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.grammars.byte_dfa import to_byte_dfa
from lmc.grammars.char_compile import compile_char_dfa
from lmc.grammars.dfa import CharDFA

ATOMS = ["a", "b", "c", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", r"\W", "[a-c]", "é", "中", r"\.", "[^\n]", "😀", r"[^\x00-\x7f]"]
QUANTIFIERS = ["*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "*?", "{,2}"]
ALPHABET = "abc19 \n\t_é中.😀\x7f-"


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map(lambda t: f"(?:{t[0]}|{t[1]})"),
        st.tuples(children, st.sampled_from(QUANTIFIERS)).map(lambda t: f"(?:{t[0]}){t[1]}"),
        children.map(lambda x: f"({x})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}|{t[1]}"),
    )


patterns = st.recursive(st.sampled_from(ATOMS), _extend, max_leaves=8)


def sample_match(dfa: CharDFA, rng: random.Random, max_len: int = 12) -> str | None:
    """A random string the DFA accepts (a walk that stops at accepting states by chance)."""
    ends = [*dfa.starts[1:], 0x110000]
    by_class: dict[int, list[tuple[int, int]]] = {}
    for lo, end, c in zip(dfa.starts, ends, dfa.classes):
        by_class.setdefault(c, []).append((lo, end - 1))
    state, out = 0, []
    for _ in range(max_len):
        if dfa.tags[state] and rng.random() < 0.3:
            return "".join(out)
        live = [c for c in range(dfa.trans.shape[1]) if dfa.trans[state, c] >= 0]
        if not live:
            break
        c = rng.choice(live)
        lo, hi = rng.choice(by_class[c])
        cp = rng.choice([lo, hi, rng.randint(lo, min(hi, lo + 300))])
        if 0xD800 <= cp <= 0xDFFF:
            return None
        out.append(chr(cp))
        state = int(dfa.trans[state, c])
    return "".join(out) if dfa.tags[state] else None


def _mutate(text: str, rng: random.Random) -> str:
    """A near miss (or near hit): one character replaced, inserted or deleted."""
    i = rng.randint(0, len(text))
    ch = rng.choice(ALPHABET + "0123456789")
    return rng.choice([text[:i] + ch + text[i + 1 :], text[:i] + ch + text[i:], text[:i] + text[i + 1 :]])


@settings(max_examples=250, deadline=None)
@given(pattern=patterns, texts=st.lists(st.text(alphabet=ALPHABET, max_size=8), max_size=20), seed=st.integers(0, 2**32))
def test_dfa_fullmatch_agrees_with_re(pattern: str, texts: list[str], seed: int) -> None:
    dfa = compile_char_dfa([pattern])
    byte_dfa = to_byte_dfa(dfa)
    rng = random.Random(seed)
    samples = [s for s in (sample_match(dfa, rng) for _ in range(10)) if s is not None]
    for text in texts + samples + [_mutate(s, rng) for s in samples for _ in range(3)]:
        expected = re.fullmatch(pattern, text, re.ASCII) is not None
        assert dfa.fullmatch(text) == expected, (pattern, text)
        end = byte_dfa.run(text.encode("utf-8"))
        assert (end >= 0 and bool(byte_dfa.tags[end])) == expected, (pattern, text)


@settings(max_examples=100, deadline=None)
@given(pattern=patterns)
def test_minimal_dfa_is_canonical(pattern: str) -> None:
    """Equal languages give identical tables: the pattern and a redundant rewrite of it."""
    a = compile_char_dfa([pattern])
    b = compile_char_dfa([f"(?:{pattern})|(?:{pattern})"])
    assert a.num_states == b.num_states
    assert a.num_transitions == b.num_transitions


def test_known_minimal_sizes() -> None:
    assert compile_char_dfa(["(a|b)*abb"]).num_states == 4
    assert compile_char_dfa(["[ab]*"]).num_states == 1
    assert compile_char_dfa(["a{3,5}"]).num_states == 6
    assert compile_char_dfa(["(?:ab|ac)"]).num_states == 3


def test_tagged_union_reports_which_pattern_matched() -> None:
    dfa = compile_char_dfa([r"[a-z]+", "if", r"[0-9]+"])
    for text, tags in [("if", {0, 1}), ("iff", {0}), ("42", {2})]:
        state = dfa.run(text)
        assert set(dfa.tags[state]) == tags
