"""Regex text to minimal character DFA: parse, partition the alphabet, position automaton and
subsets, Moore."""

from __future__ import annotations

from lmc.grammars.alphabet import build_alphabet
from lmc.grammars.dfa import CharDFA, trim
from lmc.grammars.glushkov import position_dfa
from lmc.grammars.minimize import minimize
from lmc.grammars.regex_ast import leaves
from lmc.grammars.regex_parser import parse_regex


def compile_char_dfa(patterns: list[str]) -> CharDFA:
    """The minimal DFA matching any of `patterns` in full; `tags` say which ones accept.

    One pattern gives an ordinary DFA (tag 0 on accepting states); several give the union with
    each accepting state tagged, which is what a lexer over many terminals needs.
    """
    trees = [parse_regex(p) for p in patterns]
    alphabet = build_alphabet(s for tree in trees for s in leaves(tree))
    trans, tags = position_dfa(trees, alphabet)
    trans, tags = trim(trans, tags)
    return minimize(trans, tags, alphabet.starts, alphabet.classes)
