"""`TokenFSM`: a regular constraint over token ids, the object the engine holds per pattern.

States are ints: the byte-DFA state of the text generated so far (`0` initial), plus one extra
state, `done_state`, reached by EOS. Masks are precomputed for every state as packed bits, so
`fill_mask` for a batch is one gather and one unpack; next states are a walk of the token's few
bytes through the byte DFA (the masks guarantee it never dies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from lmc.grammars.byte_dfa import ByteDFA
from lmc.grammars.compress import ForcedRuns, forced_runs
from lmc.grammars.errors import ConstraintError
from lmc.grammars.token_table import build_masks
from lmc.grammars.vocab import Vocabulary

if TYPE_CHECKING:  # torch loads where masks are built, so compiling DFAs (`lmc compile`) never imports it
    import torch


@dataclass(frozen=True, eq=False)
class TokenFSM:
    """Implements the `Constraint` protocol for one (pattern, tokenizer) pair; immutable, shared
    by every request that uses the pattern. `key` is its content hash (pattern + tokenizer)."""

    key: str
    dfa: ByteDFA
    forced: ForcedRuns
    packed: np.ndarray = field(repr=False)
    token_bytes: list[bytes] = field(repr=False)
    eos_token_id: int
    vocab_size: int

    @property
    def done_state(self) -> int:
        """The state after EOS: accepting, terminal, allows only EOS again."""
        return self.dfa.num_states

    @property
    def num_states(self) -> int:
        return self.dfa.num_states + 1

    def initial_state(self) -> int:
        return 0

    def allowed_tokens(self, state: int) -> torch.Tensor:
        import torch
        bits = np.unpackbits(self.packed[state], count=self.vocab_size, bitorder="little")
        return torch.from_numpy(bits).view(torch.bool)

    def allowed_token_ids(self, state: int) -> np.ndarray:
        """Sorted ids of the allowed tokens (EOS included in accepting states)."""
        return np.flatnonzero(np.unpackbits(self.packed[state], count=self.vocab_size, bitorder="little"))

    def fill_mask(self, states: Sequence[int], out: torch.Tensor) -> torch.Tensor:
        """Write the masks of `states` into rows of `out` (bool `[len(states), vocab_size]`, any
        device); one numpy gather + unpack and one copy for the whole batch."""
        import torch
        rows = self.packed[np.asarray(states, dtype=np.int64)]
        bits = np.unpackbits(rows, axis=1, count=self.vocab_size, bitorder="little").view(np.bool_)
        if out.device.type == "cpu":
            np.copyto(out.numpy(), bits)  # torch's CPU copy_ is ~100x slower for this size
        else:
            out.copy_(torch.from_numpy(bits), non_blocking=True)
        return out

    def fill_bitmask(self, states: Sequence[int], out: torch.Tensor) -> torch.Tensor:
        """Write packed masks into `out` (int32 `[len(states), ceil(vocab_size / 32)]`, any
        device): bit `t % 32` of word `t // 32` is token t, the layout of xgrammar's bitmasks.
        A row gather, no unpacking: expand on the device with `unpack_bitmask`."""
        import torch
        index = torch.as_tensor(states, dtype=torch.int64)
        if out.device.type == "cpu":
            return torch.index_select(self._words, 0, index, out=out)
        out.copy_(self._words[index], non_blocking=True)
        return out

    @cached_property
    def _words(self) -> torch.Tensor:
        import torch
        words = np.zeros((self.packed.shape[0], (self.vocab_size + 31) // 32), dtype=np.int32)
        words.view(np.uint8)[:, : self.packed.shape[1]] = self.packed
        return torch.from_numpy(words)

    def is_allowed(self, state: int, token_id: int) -> bool:
        if not 0 <= token_id < self.vocab_size:
            return False
        return bool((self.packed[state, token_id >> 3] >> (token_id & 7)) & 1)

    def advance(self, state: int, token_id: int) -> int:
        if not self.is_allowed(state, token_id):
            raise ValueError(f"token {token_id} is not allowed in state {state} of constraint {self.key[:12]}")
        if token_id == self.eos_token_id:
            return self.done_state
        return self.dfa.run(self.token_bytes[token_id], state)

    def is_accepting(self, state: int) -> bool:
        return state == self.done_state or bool(self.dfa.tags[state])

    def is_terminal(self, state: int) -> bool:
        """Accepting with EOS as the only allowed token."""
        return bool(self._terminal[state])

    @cached_property
    def _terminal(self) -> np.ndarray:
        others = self.packed.copy()
        others[:, self.eos_token_id >> 3] &= ~np.uint8(1 << (self.eos_token_id & 7))
        accepting = np.append(self.dfa.accepting, True)
        return accepting & ~others.any(axis=1)

    def forced_run(self, state: int) -> str:
        return self.forced_jump(state)[0]

    def forced_jump(self, state: int) -> tuple[str, int]:
        """`(forced_run(state), the state after it)`: the whole jump, O(1) (one slice)."""
        if state == self.done_state:
            return "", state
        return self.forced.forced_text(state)

    def state_after_text(self, state: int, text: str) -> int:
        """The state after appending `text` (e.g. a forced run, re-tokenized however the engine
        likes: the state depends only on the text). Raises ValueError if `text` leaves the
        language."""
        after = self.dfa.run(text.encode("utf-8"), state) if state != self.done_state else -1
        if after < 0:
            raise ValueError(f"text {text!r} cannot follow state {state} of constraint {self.key[:12]}")
        return after

    def to_arrays(self) -> dict[str, np.ndarray]:
        f = self.forced
        return {
            "trans": self.dfa.trans,
            "accepting": self.dfa.accepting,
            "num_char_states": np.array(self.dfa.num_char_states),
            "packed": self.packed,
            "forced_buffer": np.frombuffer(f.buffer, dtype=np.uint8),
            "forced_start": f.start,
            "forced_text_length": f.text_length,
            "forced_text_state": f.text_state,
        }


def build_token_fsm(key: str, dfa: ByteDFA, vocab: Vocabulary) -> TokenFSM:
    """Token tables and forced runs for `dfa` over `vocab`; refuses a constraint no token
    sequence can satisfy (the engine would otherwise face an all-false mask)."""
    packed = build_masks(vocab, dfa.trans, dfa.accepting)
    if not packed[0].any():
        raise ConstraintError("no sequence of this tokenizer's tokens matches the constraint")
    return TokenFSM(key, dfa, forced_runs(dfa), packed, vocab.token_bytes, vocab.eos_token_id, vocab.vocab_size)


def token_fsm_from_arrays(key: str, arrays: dict[str, np.ndarray], vocab: Vocabulary) -> TokenFSM:
    tags = tuple(frozenset({0}) if a else frozenset() for a in arrays["accepting"].tolist())
    dfa = ByteDFA(arrays["trans"], tags, int(arrays["num_char_states"]))
    forced = ForcedRuns(
        arrays["forced_buffer"].tobytes(),
        arrays["forced_start"],
        arrays["forced_text_length"],
        arrays["forced_text_state"],
    )
    return TokenFSM(key, dfa, forced, arrays["packed"], vocab.token_bytes, vocab.eos_token_id, vocab.vocab_size)
