"""`GrammarConstraint`: generation constrained by a lark grammar (LALR), token masks cached.

State: `(stack, lex)` where `stack` is the LALR state stack after every complete lexeme and `lex`
the state of the current lexeme in the lexer for that stack's acceptable terminals (-1: no
lexeme started). A byte either extends the lexeme, or (if the lexeme is complete) ends it,
feeds its terminal to the parser (ignored terminals are dropped) and starts the next lexeme.

Masks are computed on first use of a state (see `cfg_masks` for how) and kept packed in an LRU
of `MASK_CACHE_SIZE` states. Unlike `TokenFSM`, tables are not precomputed (the
state space is unbounded), so nothing goes to the disk cache.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import lark
import numpy as np

from lmc.grammars.cfg_lexer import Lexer, build_lexer, grammar_terminals
from lmc.grammars.cfg_masks import LexemeWalk, cross_boundary, lexeme_walk
from lmc.grammars.errors import GrammarError
from lmc.grammars.lalr import LalrTable, Stack
from lmc.grammars.vocab import Vocabulary

if TYPE_CHECKING:  # torch loads where masks are built, so compiling DFAs (`lmc compile`) never imports it
    import torch

State = tuple[Stack, int]
DONE: State = ((), -2)
MASK_CACHE_SIZE = 8192


def grammar_text(grammar: str) -> str:
    """Inline lark text, or the grammar of that name in `lmc/grammars/` (`"json"`, `"json.lark"`)."""
    if re.fullmatch(r"[\w.-]+", grammar):
        folder = resources.files("lmc.grammars")
        for name in (grammar, f"{grammar}.lark"):
            if name.endswith(".lark") and folder.joinpath(name).is_file():
                return folder.joinpath(name).read_text()
        known = sorted(Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".lark"))
        raise GrammarError(f"no grammar file {grammar!r}; the built-in grammars are {known}, or pass lark text")
    return grammar


class GrammarConstraint:
    """Implements the `Constraint` protocol for one lark grammar and one tokenizer."""

    def __init__(self, text: str, vocab: Vocabulary) -> None:
        try:
            parser = lark.Lark(text, parser="lalr", lexer="contextual")
        except lark.exceptions.LarkError as e:
            raise GrammarError(f"lark cannot build an LALR parser for this grammar: {e}") from None
        self.parser = parser
        self.table = LalrTable.from_lark(parser)
        self.terminals = grammar_terminals(parser)
        self.ignore = frozenset(parser.lexer_conf.ignore)
        self.vocab = vocab
        self.vocab_size = vocab.vocab_size
        self.eos_token_id = vocab.eos_token_id
        self._lexers: dict[frozenset[str], Lexer] = {}
        self._walks: dict[tuple[int, int], LexemeWalk] = {}
        self._masks: OrderedDict[State, np.ndarray] = OrderedDict()

    def initial_state(self) -> State:
        return self.table.initial(), -1

    def lexer(self, stack: Stack) -> Lexer:
        names = self.table.acceptable(stack) | self.ignore
        found = self._lexers.get(names)
        if found is None:
            ordered = sorted(names, key=lambda n: self.terminals[n].rank)
            found = build_lexer([self.terminals[n] for n in ordered])
            self._lexers[names] = found
        return found

    def step(self, state: State, byte: int) -> State | None:
        """The state after one more byte, or None if no valid text continues this way."""
        stack, lex = state
        if lex == DONE[1]:
            return None
        lexer = self.lexer(stack)
        nxt = int(lexer.dfa.trans[max(lex, 0), byte])
        if nxt >= 0:
            return stack, nxt
        after = self._end_lexeme(stack, lex, lexer)
        if after is None:
            return None
        nxt = int(self.lexer(after).dfa.trans[0, byte])
        return (after, nxt) if nxt >= 0 else None

    def _end_lexeme(self, stack: Stack, lex: int, lexer: Lexer) -> Stack | None:
        """The stack once the current lexeme is complete and fed (None: it is not complete)."""
        if lex < 0 or lexer.best[lex] < 0:
            return None
        name = lexer.names[lexer.best[lex]]
        return stack if name in self.ignore else self.table.feed(stack, name)

    def advance_bytes(self, state: State, data: bytes) -> State | None:
        for byte in data:
            nxt = self.step(state, byte)
            if nxt is None:
                return None
            state = nxt
        return state

    def advance(self, state: State, token_id: int) -> State:
        if not self.allowed_tokens(state)[token_id]:
            raise ValueError(f"token {token_id} is not allowed in grammar state {state}")
        if token_id == self.eos_token_id:
            return DONE
        after = self.advance_bytes(state, self.vocab.token_bytes[token_id])
        assert after is not None, "an allowed token always has a next state"
        return after

    def is_accepting(self, state: State) -> bool:
        if state == DONE:
            return True
        stack, lex = state
        if lex < 0:
            return self.table.accepts_end(stack)
        after = self._end_lexeme(stack, lex, self.lexer(stack))
        return after is not None and self.table.accepts_end(after)

    def is_terminal(self, state: State) -> bool:
        return self.is_accepting(state) and self._mask(state).sum() == 1

    def forced_run(self, state: State) -> str:
        """Forced text inside the current lexeme (e.g. `rue` after `t` in JSON); "" otherwise."""
        if state == DONE:
            return ""
        stack, lex = state
        return self.lexer(stack).forced.forced_text(max(lex, 0))[0]

    def forced_jump(self, state: State) -> tuple[str, State]:
        text = self.forced_run(state)
        return text, (self.state_after_text(state, text) if text else state)

    def state_after_text(self, state: State, text: str) -> State:
        after = self.advance_bytes(state, text.encode("utf-8"))
        if after is None:
            raise ValueError(f"text {text!r} cannot follow grammar state {state}")
        return after

    def allowed_tokens(self, state: State) -> torch.Tensor:
        import torch
        return torch.from_numpy(self._mask(state))

    def allowed_token_ids(self, state: State) -> np.ndarray:
        return np.flatnonzero(self._mask(state))

    def fill_mask(self, states: Sequence[State], out: torch.Tensor) -> torch.Tensor:
        import torch
        rows = np.stack([self._mask(s) for s in states])
        if out.device.type == "cpu":
            np.copyto(out.numpy(), rows)
        else:
            out.copy_(torch.from_numpy(rows), non_blocking=True)
        return out

    def _mask(self, state: State) -> np.ndarray:
        packed = self._masks.get(state)
        if packed is None:
            packed = np.packbits(self._compute_mask(state))
            self._masks[state] = packed
            if len(self._masks) > MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        self._masks.move_to_end(state)
        return np.unpackbits(packed, count=self.vocab_size).view(np.bool_)

    def _compute_mask(self, state: State) -> np.ndarray:
        bits = np.zeros(self.vocab_size, dtype=bool)
        if state == DONE:
            bits[self.eos_token_id] = True
            return bits
        stack, lex = state
        lexer = self.lexer(stack)
        key = (id(lexer), max(lex, 0))
        if key not in self._walks:
            self._walks[key] = lexeme_walk(self.vocab, lexer, max(lex, 0))
        inside, exits = self._walks[key]
        bits |= inside
        for depth, before, rows in exits:
            after = self._end_lexeme(stack, before, lexer)
            if after is None:
                continue
            survivors, retry = cross_boundary(self.vocab, self.lexer(after), rows, depth)
            bits[survivors] = True
            for token in retry.tolist():
                bits[token] = self.advance_bytes(state, self.vocab.token_bytes[token]) is not None
        bits[self.eos_token_id] = self.is_accepting(state)
        return bits
