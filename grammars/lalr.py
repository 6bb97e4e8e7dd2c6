"""LALR parsing on a bare state stack, over the parse table lark builds.

The CFG constraint explores many hypothetical continuations per step (one per token that crosses
a lexeme boundary), so its parser state must be cheap to copy and hashable: a tuple of LALR state
ids is both, where lark's own `ParserState` carries a value stack and deep-copies it. The moves
are exactly lark's `ParserState.feed_token` without the tree building.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark
from lark.parsers.lalr_analysis import Shift

Stack = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class LalrTable:
    """Lark's LALR table for one grammar; `terminals` are the names the lexer can produce."""

    states: dict = field(repr=False)
    start_state: int
    end_state: int
    terminals: frozenset[str]

    @classmethod
    def from_lark(cls, parser: Lark) -> LalrTable:
        conf = parser.parse_interactive("").parser_state.parse_conf
        return cls(conf.states, conf.start_state, conf.end_state, frozenset(t.name for t in parser.terminals))

    def initial(self) -> Stack:
        return (self.start_state,)

    def feed(self, stack: Stack, terminal: str) -> Stack | None:
        """The stack after shifting `terminal` (reducing first as needed); None if not allowed."""
        return _feed(self, stack, terminal)

    def accepts_end(self, stack: Stack) -> bool:
        """True when the input may end here (feeding `$END` reaches the end state)."""
        return _feed(self, stack, "$END") is not None

    def acceptable(self, stack: Stack) -> frozenset[str]:
        """Terminals that can be shifted next (a table entry is not enough: LALR may reduce on a
        lookahead and only then find it has no shift)."""
        return _acceptable(self, stack)


@lru_cache(maxsize=1 << 16)
def _feed(table: LalrTable, stack: Stack, terminal: str) -> Stack | None:
    states = table.states
    work = list(stack)
    while True:
        action = states[work[-1]].get(terminal)
        if action is None:
            return None
        kind, arg = action
        if kind is Shift:
            return (*work, arg)
        size = len(arg.expansion)
        if size:
            del work[-size:]
        work.append(states[work[-1]][arg.origin.name][1])
        if terminal == "$END" and work[-1] == table.end_state:
            return tuple(work)


@lru_cache(maxsize=1 << 14)
def _acceptable(table: LalrTable, stack: Stack) -> frozenset[str]:
    keys = table.states[stack[-1]].keys() & table.terminals
    return frozenset(t for t in keys if _feed(table, stack, t) is not None)
