"""The token-level constraints of a run's gens, compiled by `lmc.grammars` once per pattern."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from lmc.plan.errors import RowError
from lmc.plan.language import GenCall, gen

if TYPE_CHECKING:
    from lmc.grammars.constraint import Constraint


class ConstraintCompiler:
    """Compiles a gen's regex / json_schema / grammar / choices / dtype for this tokenizer.

    `lmc.grammars` is imported on first use: a program without constraints runs without it, and
    one with constraints gets an error that says what is missing."""

    def __init__(self, token_bytes: list[bytes], eos_token_id: int | None, vocab_size: int) -> None:
        self.token_bytes = token_bytes
        self.eos_token_id = eos_token_id
        self.vocab_size = vocab_size
        self._built: dict[Hashable, Constraint] = {}

    def get(self, call: GenCall, row_id: Any = None, node: str | None = None) -> Constraint | None:
        key = call.constraint()
        if key is None:
            return None
        if key not in self._built:
            compile_constraint = _compiler(row_id, node)
            if self.eos_token_id is None:
                raise RowError("constrained generation needs a tokenizer with an EOS token", row_id, node)
            self._built[key] = compile_constraint(
                regex=call.regex,
                json_schema=call.json_schema,
                grammar=call.grammar,
                choices=call.choices,
                dtype=call.dtype,
                token_bytes=self.token_bytes,
                eos_token_id=self.eos_token_id,
                vocab_size=self.vocab_size,
            )
        return self._built[key]

    def build_planned(self, table: dict[str, dict[str, Any]]) -> None:
        """Build now, before any row runs, the token tables of the plan's constant constraints
        (the table of its precompile_constraints pass), so the first rows do not wait for them."""
        for entry in table.values():
            value = json.loads(entry["source"]) if entry["kind"] == "choices" else entry["source"]
            self.get(gen("x", **{entry["kind"]: value}))

    def source(self, call: GenCall) -> dict[str, str] | None:
        """What `get(call)` compiles, as one regex (or a lark grammar's text): what an API
        backend sends to an endpoint that constrains decoding itself."""
        if call.constraint() is None:
            return None
        from lmc.grammars import constraint_regex
        from lmc.grammars.cfg import grammar_text

        if call.grammar is not None:
            return {"grammar": grammar_text(call.grammar)}
        return {"regex": constraint_regex(regex=call.regex, json_schema=call.json_schema,
                                          choices=call.choices, dtype=call.dtype)}


def _compiler(row_id: Any, node: str | None) -> Callable[..., Constraint]:
    try:
        from lmc.grammars import compile_constraint
    except ImportError as exc:
        raise RowError(
            f"this gen has a constraint, but lmc.grammars cannot compile it here ({exc}); "
            "remove regex=/json_schema=/grammar=/choices=/dtype= or install a complete lmc",
            row_id,
            node,
        ) from None
    return compile_constraint


def accepts(constraint: Constraint, ids: list[int]) -> bool:
    """Whether `ids` spell a complete match (checked after a gen ran out of max_tokens)."""
    state = constraint.initial_state()
    try:
        for token in ids:
            state = constraint.advance(state, token)
    except ValueError:
        return False
    return constraint.is_accepting(state)
