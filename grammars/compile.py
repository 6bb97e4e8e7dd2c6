"""The one door into `lmc.grammars`: constraint arguments in, a shared `Constraint` out.

Three cache levels, cheapest first: an in-memory LRU of built constraints (a program's gens reuse
a handful of patterns), the on-disk tables under `$LMC_HOME/cache/fsm` keyed by content hash, and
building from scratch. The character-level half (`compile_regex_dfa`) needs no tokenizer, so the
compiler's precompile pass can run it ahead of time and leave the byte DFA on disk.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmc.grammars.byte_dfa import ByteDFA, to_byte_dfa
from lmc.grammars.cache import content_key, default_cache_dir, load_arrays, save_arrays
from lmc.grammars.cfg import GrammarConstraint, grammar_text
from lmc.grammars.char_compile import compile_char_dfa
from lmc.grammars.constraint import Constraint
from lmc.grammars.errors import ConstraintError
from lmc.grammars.json_schema import JsonOptions, json_schema_to_regex
from lmc.grammars.regex_ast import longest_match
from lmc.grammars.regex_parser import parse_regex
from lmc.grammars.shorthands import choices_regex, dtype_regex
from lmc.grammars.token_fsm import TokenFSM, build_token_fsm, token_fsm_from_arrays
from lmc.grammars.vocab import Vocabulary, build_vocabulary, fingerprint

LRU_SIZE = 64
_constraints: OrderedDict[tuple[str, str], Constraint] = OrderedDict()
_vocabularies: OrderedDict[str, Vocabulary] = OrderedDict()
_recent_lists: list[tuple[list[bytes], Vocabulary]] = []


@dataclass(frozen=True)
class RegexInfo:
    """What compiling a pattern without a tokenizer tells the compiler (for the plan and
    `lmc explain`): its content hash and the size of its automata."""

    key: str
    pattern: str
    num_states: int
    num_transitions: int
    num_byte_states: int


def constraint_regex(
    *,
    regex: str | None = None,
    json_schema: dict | bool | str | None = None,
    choices: list[str] | tuple[str, ...] | None = None,
    dtype: Any = None,
    json_options: JsonOptions | None = None,
) -> str:
    """The regex behind any regular constraint kind (exactly one must be given)."""
    given = {k: v for k, v in {"regex": regex, "json_schema": json_schema, "choices": choices, "dtype": dtype}.items() if v is not None}
    if len(given) != 1:
        raise ConstraintError(f"give exactly one of regex, json_schema, choices, dtype; got {sorted(given) or 'none'}")
    if regex is not None:
        return regex
    if json_schema is not None:
        return json_schema_to_regex(json_schema, json_options)
    if choices is not None:
        return choices_regex(choices)
    return dtype_regex(dtype)


def max_match_length(pattern: str) -> int | None:
    """The most characters `pattern` can match (None if unbounded): a cheap bound on how many
    tokens a constrained gen can produce, used by the cache model (lmc.plan)."""
    return longest_match(parse_regex(pattern))


def compile_regex_dfa(pattern: str, *, cache_dir: Path | None = None) -> RegexInfo:
    """Compile `pattern` to its character and byte DFAs, leave the byte DFA in the disk cache,
    and report its hash and size. Raises `RegexError` for unsupported syntax."""
    folder = cache_dir or default_cache_dir()
    key = content_key("regex", pattern)
    char_dfa = compile_char_dfa([pattern])
    byte_dfa = to_byte_dfa(char_dfa)
    save_arrays(folder, key, _dfa_arrays(byte_dfa))
    return RegexInfo(key, pattern, char_dfa.num_states, char_dfa.num_transitions, byte_dfa.num_states)


def compile_constraint(
    *,
    regex: str | None = None,
    json_schema: dict | bool | str | None = None,
    grammar: str | None = None,
    choices: list[str] | tuple[str, ...] | None = None,
    dtype: Any = None,
    token_bytes: list[bytes],
    eos_token_id: int,
    vocab_size: int,
    json_options: JsonOptions | None = None,
    cache_dir: Path | None = None,
) -> Constraint:
    """A `Constraint` for exactly one of regex / json_schema / grammar / choices / dtype over a
    tokenizer given as its per-token surface bytes. Equal arguments return the same object."""
    folder = cache_dir or default_cache_dir()
    vocab = _vocabulary(token_bytes, eos_token_id, vocab_size)
    if grammar is not None:
        if any(v is not None for v in (regex, json_schema, choices, dtype)):
            raise ConstraintError("give exactly one of regex, json_schema, grammar, choices, dtype")
        text = grammar_text(grammar)
        return _remember(("grammar:" + content_key("grammar", text), vocab.fingerprint), lambda: GrammarConstraint(text, vocab))
    pattern = constraint_regex(regex=regex, json_schema=json_schema, choices=choices, dtype=dtype, json_options=json_options)
    return _remember(("regex:" + pattern, vocab.fingerprint), lambda: _token_fsm(pattern, vocab, folder))


def _token_fsm(pattern: str, vocab: Vocabulary, folder: Path) -> TokenFSM:
    key = content_key("token_fsm", pattern, vocab.fingerprint)
    arrays = load_arrays(folder, key)
    if arrays is not None:
        return token_fsm_from_arrays(key, arrays, vocab)
    fsm = build_token_fsm(key, _byte_dfa(pattern, folder), vocab)
    save_arrays(folder, key, fsm.to_arrays())
    return fsm


def _byte_dfa(pattern: str, folder: Path) -> ByteDFA:
    """The byte DFA, from the precompile pass's file when there is one. A DFA built here is not
    written on its own: the token table file written next holds it too, so a cold compile costs
    one disk write."""
    arrays = load_arrays(folder, content_key("regex", pattern))
    if arrays is not None:
        tags = tuple(frozenset({0}) if a else frozenset() for a in arrays["accepting"].tolist())
        return ByteDFA(arrays["trans"], tags, int(arrays["num_char_states"]))
    return to_byte_dfa(compile_char_dfa([pattern]))


def _dfa_arrays(dfa: ByteDFA) -> dict[str, np.ndarray]:
    return {"trans": dfa.trans, "accepting": dfa.accepting, "num_char_states": np.array(dfa.num_char_states)}


def _vocabulary(token_bytes: list[bytes], eos_token_id: int, vocab_size: int) -> Vocabulary:
    """The vocabulary (trie built once per tokenizer). The same list object passed again skips
    even the hashing: callers hand `token_bytes` over once and must not mutate it."""
    for given, vocab in _recent_lists:
        if given is token_bytes and (vocab.eos_token_id, vocab.vocab_size) == (eos_token_id, vocab_size):
            return vocab
    fp = fingerprint(token_bytes, eos_token_id, vocab_size)
    vocab = _vocabularies.get(fp)
    if vocab is None:
        vocab = build_vocabulary(token_bytes, eos_token_id, vocab_size)
        _vocabularies[fp] = vocab
        while len(_vocabularies) > 4:
            _vocabularies.popitem(last=False)
    _vocabularies.move_to_end(fp)
    _recent_lists[:] = [(token_bytes, vocab), *_recent_lists[:3]]
    return vocab


def _remember(key: tuple[str, str], build) -> Constraint:
    found = _constraints.get(key)
    if found is None:
        found = build()
        _constraints[key] = found
        while len(_constraints) > LRU_SIZE:
            _constraints.popitem(last=False)
    _constraints.move_to_end(key)
    return found
