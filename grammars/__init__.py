"""Constraint compilers: regex, JSON schema, choices and lark grammars to token-level automata.

Entry points:
- `compile_constraint(regex=|json_schema=|grammar=|choices=|dtype=, token_bytes=, eos_token_id=,
  vocab_size=)` -> a `Constraint` (a `TokenFSM` for regular kinds, a `GrammarConstraint` for
  lark grammars), shared and cached.
- `compile_regex_dfa(pattern)` -> `RegexInfo` (hash, states, transitions): the tokenizer-free
  half, for the compiler's precompile pass; `constraint_regex(...)` gives the regex of any
  regular kind.
- `json_schema_to_regex(schema, JsonOptions)`; `build_regex_from_object(model_or_schema)` is
  SGLang's name for it (a pydantic class, a schema dict or JSON text; compact JSON).

Decoding protocol for the engine (per request, `c` the constraint, `s` its state):
1. Masks: `c.fill_mask(states, out)` writes bool rows `[B, vocab_size]` (True = allowed) for a
   batch of states of one constraint; `fill_masks(pairs, out)` does it for mixed constraints.
   Apply with `logits.masked_fill_(~mask, -inf)`. EOS is allowed exactly in accepting states;
   ids past the tokenizer's vocabulary are never allowed. For GPU batches, `TokenFSM.fill_bitmask`
   writes int32 bitmasks `[B, ceil(vocab/32)]` (32x fewer bytes to copy; xgrammar's layout)
   and `unpack_bitmask(bitmask, vocab_size)` expands them to bool on the device.
2. After sampling token t: `s = c.advance(s, t)` (ValueError if t was masked out). Finish with
   FinishReason.CONSTRAINT when `c.is_terminal(s)` (only EOS could follow).
3. Jump-forward (compressed FSM): `text = c.forced_run(s)`; if non-empty, the constraint admits
   exactly one continuation for `text`. The engine decodes the tail of the output, appends
   `text`, re-encodes the tail (the boundary token may change, e.g. `"na` + `me"` -> `"name"`),
   replaces the tail's token ids with the new ones, extends the KV cache with the new tokens in
   one step, and sets `s = c.state_after_text(s, text)` (the state depends only on the text,
   never on how it was tokenized). `c.forced_jump(s)` returns `(text, next_state)` at once.
   The forced text always ends on a character boundary and never passes an accepting state
   (where EOS would be a choice).
"""

from lmc.grammars.compile import (
    RegexInfo,
    compile_constraint,
    compile_regex_dfa,
    constraint_regex,
    max_match_length,
)
from lmc.grammars.constraint import Constraint
from lmc.grammars.errors import ConstraintError, GrammarError, RegexError, SchemaError
from lmc.grammars.json_schema import JsonOptions, build_regex_from_object, json_schema_to_regex
from lmc.grammars.masks import fill_masks, unpack_bitmask
from lmc.grammars.token_fsm import TokenFSM

__all__ = [
    "max_match_length",
    "Constraint",
    "ConstraintError",
    "GrammarError",
    "JsonOptions",
    "RegexError",
    "RegexInfo",
    "SchemaError",
    "TokenFSM",
    "build_regex_from_object",
    "compile_constraint",
    "compile_regex_dfa",
    "constraint_regex",
    "fill_masks",
    "json_schema_to_regex",
    "unpack_bitmask",
]
