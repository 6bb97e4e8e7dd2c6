"""Alternations of literals factored into a trie keep Python `re`'s language, and shrink the
automaton (one position per character set left in the tree)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.grammars.char_compile import compile_char_dfa
from lmc.grammars.regex_ast import leaves
from lmc.grammars.regex_parser import parse_regex

words = st.lists(st.text(alphabet="ab.*\\ x", max_size=5), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(words, st.sampled_from(["", "+", "{1,2}", "?"]), st.sampled_from(["{}", "(?:{})", "x(?:{})x", "({})*"]))
def test_factored_alternation_matches_python(options: list[str], quantifier: str, frame: str) -> None:
    """Options share prefixes and endings, some are empty, duplicated or prefixes of others, the
    last character of an option may be quantified, the alternation may be a group (read as
    strings when all literal): every option, its prefixes and extensions are judged alike."""
    pattern = frame.format("|".join(re.escape(o) + (quantifier if o else "") for o in options))
    dfa = compile_char_dfa([pattern])
    probes = {o[:i] + tail for o in options for i in range(len(o) + 1) for tail in ("", "a", "x")}
    for text in probes | {o + o for o in options} | {"x" + o + "x" for o in options}:
        assert dfa.fullmatch(text) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_shared_prefixes_are_built_once() -> None:
    """200 enum strings with a 10-character common prefix: a trie, not 200 copies."""
    options = [f'"Country {chr(65 + i // 26)}{chr(97 + i % 26)}"' for i in range(200)]
    tree = parse_regex("|".join(re.escape(o) for o in options))
    assert len(leaves(tree)) < 100 < sum(len(o) for o in options)
    dfa = compile_char_dfa(["|".join(re.escape(o) for o in options)])
    assert all(dfa.fullmatch(o) for o in options) and not dfa.fullmatch('"Country Za"')
