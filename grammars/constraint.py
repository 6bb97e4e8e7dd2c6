"""The one view of a constraint that runtime code sees.

A constraint is an automaton over token ids. Its states are small ints (or hashable values) kept
by the engine per request; the constraint object itself is immutable and shared by all requests
that use the same pattern and tokenizer.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # torch loads where masks are built, so compiling DFAs (`lmc compile`) never imports it
    import torch



@runtime_checkable
class Constraint(Protocol):
    """Token-level automaton: what may come next, where a token leads, what is forced."""

    def initial_state(self) -> Hashable: ...

    def allowed_tokens(self, state: Hashable) -> torch.Tensor:
        """Bool mask `[vocab_size]`: True where the token keeps the output completable."""
        ...

    def fill_mask(self, states: Sequence[Hashable], out: torch.Tensor) -> torch.Tensor:
        """Row i of `out` (bool `[len(states), vocab_size]`) becomes the mask of `states[i]`, for
        a batch at once; returns `out`."""
        ...

    def advance(self, state: Hashable, token_id: int) -> Hashable:
        """The state after `token_id`; raises ValueError if the token is not allowed."""
        ...

    def is_accepting(self, state: Hashable) -> bool:
        """True when the text so far is a complete match (EOS is allowed here)."""
        ...

    def is_terminal(self, state: Hashable) -> bool:
        """True when accepting and no token can extend the match: generation must end."""
        ...

    def forced_run(self, state: Hashable) -> str:
        """The text that is the only way forward from `state` ("" if there is a choice): the
        compressed-FSM jump. The engine appends its tokens in one extend step."""
        ...

    def forced_jump(self, state: Hashable) -> tuple[str, Hashable]:
        """`(forced_run(state), the state after that text)`. The state depends only on the text,
        so the engine may re-tokenize the jump's boundary however it likes."""
        ...

    def state_after_text(self, state: Hashable, text: str) -> Hashable:
        """The state after `text` however it is tokenized (the engine's jump-forward re-tokenizes
        a jump's boundary); raises ValueError if the text cannot follow."""
        ...
