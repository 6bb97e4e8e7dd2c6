"""The token-level constraints of a run's gens, compiled by `lmc.grammars` once per pattern."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from lmc.plan.errors import RowError
from lmc.plan.language import GenCall

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
