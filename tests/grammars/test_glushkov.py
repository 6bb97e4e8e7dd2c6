"""The position automaton on repeat shapes where follow links are easy to get wrong (nullable
copies, nested counts, empty repeats), checked against Python's `re` on every short string."""

from __future__ import annotations

import re
from itertools import product

import pytest

from lmc.grammars.char_compile import compile_char_dfa
from lmc.grammars.errors import ConstraintError


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?:a?b?){2,5}c",
        r"(?:a*|b){0,4}c?",
        r"(?:(?:ab){0,3}){2}",
        r"x{0}y|a{3,}",
        r"(?:a|){3,}b",
        r"(?:a|bc?){1,3}(?:c|)",
        r"(?:[ab]b){0,6}a{2,3}",
        r"(?:a+b*)+c?",
        r"(?:)*a",
    ],
)
def test_agrees_with_re_on_all_short_strings(pattern: str) -> None:
    dfa = compile_char_dfa([pattern])
    for n in range(8):
        for chars in product("abcy", repeat=n):
            text = "".join(chars)
            assert dfa.fullmatch(text) == (re.fullmatch(pattern, text) is not None), (pattern, text)


def test_union_tags_each_pattern() -> None:
    dfa = compile_char_dfa(["a{1,3}", "a{2}b?", "(?:ab)*"])
    tags = {t: dfa.tags[dfa.run(t)] if dfa.run(t) >= 0 else None for t in ["", "a", "aa", "aab", "ab", "aaa", "aaaa"]}
    assert tags == {"": {2}, "a": {0}, "aa": {0, 1}, "aab": {1}, "ab": {2}, "aaa": {0}, "aaaa": None}


def test_a_huge_expansion_is_refused() -> None:
    with pytest.raises(ConstraintError, match="counted"):
        compile_char_dfa(["(?:(?:[ab]{1,100}){1,100}){1,50}"])
