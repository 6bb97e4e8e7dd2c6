"""The CFG constraint's lexer: one tagged byte DFA per set of terminals the parser can take next.

Lexing is longest match (a lexeme ends only when the next byte cannot extend it), over the
terminals acceptable in the current parser state plus the ignored ones, which is what lark's
contextual lexer does for grammars whose terminals of different kinds are not prefixes of one
another. When one lexeme matches several terminals, the higher lark priority wins, then a
literal string over a pattern (lark's keyword rule), then grammar order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from lark import Lark
from lark.lexer import PatternStr

from lmc.grammars.byte_dfa import ByteDFA, to_byte_dfa
from lmc.grammars.char_compile import compile_char_dfa
from lmc.grammars.compress import ForcedRuns, forced_runs
from lmc.grammars.errors import ConstraintError, GrammarError


@dataclass(frozen=True)
class Terminal:
    name: str
    regex: str
    rank: tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class Lexer:
    """`best[s]` is the index in `names` of the terminal a lexeme ending in byte state s is
    (-1: the text so far is no complete lexeme)."""

    names: tuple[str, ...]
    dfa: ByteDFA = field(repr=False)
    best: np.ndarray = field(repr=False)
    forced: ForcedRuns = field(repr=False)


def grammar_terminals(parser: Lark) -> dict[str, Terminal]:
    """Every terminal of a lark grammar with its regex; refuses what the DFA cannot honour
    (flags, lookaround, ...) up front, naming the terminal."""
    out = {}
    for order, t in enumerate(parser.terminals):
        if t.pattern.flags:
            raise GrammarError(
                f"terminal {t.name} uses regex flags {sorted(t.pattern.flags)}; write the cases out "
                '(e.g. /[Ss][Ee][Ll]/ instead of "sel"i)'
            )
        is_regex = not isinstance(t.pattern, PatternStr)
        regex = t.pattern.to_regexp()
        try:
            compile_char_dfa([regex])
        except ConstraintError as e:
            raise GrammarError(f"terminal {t.name} cannot be compiled to an automaton: {e}") from None
        out[t.name] = Terminal(t.name, regex, (-t.priority, int(is_regex), order))
    return out


def build_lexer(terminals: list[Terminal]) -> Lexer:
    names = tuple(t.name for t in terminals)
    dfa = to_byte_dfa(compile_char_dfa([t.regex for t in terminals]))
    best = np.full(dfa.num_states, -1, dtype=np.int64)
    for s, tags in enumerate(dfa.tags):
        if tags:
            best[s] = min(tags, key=lambda i: terminals[i].rank)
    return Lexer(names, dfa, best, forced_runs(dfa))
