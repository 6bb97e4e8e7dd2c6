"""The regex parser: what it accepts agrees with `re`, and what it refuses says where and why."""

from __future__ import annotations

import re

import pytest

from lmc.grammars import RegexError
from lmc.grammars.char_compile import compile_char_dfa


@pytest.mark.parametrize(
    ("pattern", "position", "reason"),
    [
        ("ab(?=c)", 2, "lookahead"),
        ("ab(?!c)", 2, "negative lookahead"),
        ("(?<=a)b", 0, "lookbehind"),
        ("(?<!a)b", 0, "negative lookbehind"),
        (r"(a)\1", 3, "backreference"),
        ("(?P<x>a)(?P=x)", 8, "named backreference"),
        ("(?i)abc", 0, "inline flags"),
        ("a(?s:.)", 1, "inline flags"),
        (r"\bword", 0, "word boundary"),
        ("a*+", 2, "possessive"),
        ("(?>ab)", 0, "atomic group"),
        ("a^b", 1, "anchors"),
        ("a$b", 1, "anchors"),
        ("(^a)", 1, "anchors"),
        ("[z-a]", 1, "bad character range"),
        ("a**", 2, "multiple repeat"),
        ("*a", 0, "nothing to repeat"),
        ("(ab", 0, "unterminated subpattern"),
        ("ab)", 2, "unbalanced parenthesis"),
        ("[ab", 0, "unterminated character set"),
        (r"\q", 0, "bad escape"),
    ],
)
def test_unsupported_features_name_the_position(pattern: str, position: int, reason: str) -> None:
    with pytest.raises(RegexError) as info:
        compile_char_dfa([pattern])
    err = info.value
    assert err.pos == position
    assert reason in str(err)
    lines = str(err).splitlines()
    assert lines[1].strip() == pattern
    assert lines[2].index("^") - lines[1].index(pattern[0]) == position


@pytest.mark.parametrize(
    ("pattern", "texts"),
    [
        (r"a{,2}", ["", "a", "aa", "aaa"]),
        (r"a{}", ["a{}", "a"]),
        (r"a{1,2", ["a{1,2", "a"]),
        (r"a{,}", ["", "aaaa"]),
        (r"[]a]+", ["]a]", "b"]),
        (r"[^]a]", ["b", "]", "\n"]),
        (r"[a-]", ["-", "a", "b"]),
        (r"[\d-]", ["-", "5", "x"]),
        (r"\x41\u00e9\U0001F600\N{BULLET}\0\101\n", ["Aé😀•\x00A\n"]),
        (r"(?P<first>ab)|(?:cd)*?e(?#comment)", ["ab", "cdcde", "e", "abe"]),
        (r"^a|b$", ["a", "b", "ab"]),
        (r"\Aab\Z", ["ab"]),
        (r"[\b]\.\*\ \-", ["\x08.* -"]),
        (r"\D\W\S", ["a!x", "1!x", "a x"]),
        ("", ["", "a"]),
        (r"(?:abcdefgh|x)[abcdefgh-]+(?:abcdefgh|x)(?:abcdefghi|y)[abcdefgh-]", ["xaxyb", "xaxxb", "x-abcdefghabcdefghi-"]),
    ],
)
def test_accepted_syntax_matches_python(pattern: str, texts: list[str]) -> None:
    dfa = compile_char_dfa([pattern])
    for text in texts:
        assert dfa.fullmatch(text) == bool(re.fullmatch(pattern, text, re.ASCII)), text


def test_dot_and_negated_classes_cover_all_of_unicode() -> None:
    dfa = compile_char_dfa([r".[^a]"])
    for ch in ["\x00", "é", "\uffff", "\U00010000", "\U0010ffff"]:
        assert dfa.fullmatch(ch + ch)
    assert not dfa.fullmatch("\nb")
    assert dfa.num_states == 3

