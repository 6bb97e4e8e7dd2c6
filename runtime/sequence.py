"""A request as the engine tracks it: its tokens, its KV slots, and where it is in its life."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lmc.runtime.request import FinishReason, Request

if TYPE_CHECKING:
    from lmc.runtime.radix_cache import TreeNode


PLACEHOLDER = -1
"""Stands in `token_ids` for a token sampled by a forward whose result the host has not read
yet (overlap scheduling): the next forward takes the real id from the device, and the engine
writes it here when it reads the step."""


_NO_SLOTS = np.empty(0, dtype=np.int64)


class SeqStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(eq=False)
class Sequence:
    """Mutable per-request state, owned by the engine.

    Invariant: `slots[i]` holds the KV of `token_ids[i]` for every `i < num_computed` (and, while
    a forward is being prepared, the fresh slots of the tokens it computes); the leading slots up
    to the depth of the locked `node` belong to the radix tree, the rest to this sequence alone.
    Tokens at `num_computed` and beyond are pending: the next forward computes them (a prefill
    chunk, a decode token, or a jump-forward run).

    The slots live in one int64 array sized for the whole request (prompt + max_tokens), filled
    in place as the request grows: a decode step writes one entry instead of rebuilding a tensor.
    """

    request: Request
    rid: str
    token_ids: list[int]  # prompt, then everything appended since
    prompt_len: int
    arrival_step: int
    status: SeqStatus = SeqStatus.WAITING
    slot_array: np.ndarray = field(default_factory=lambda: _NO_SLOTS, repr=False)  # [:num_slots] in use
    num_slots: int = 0
    num_computed: int = 0
    node: TreeNode | None = None
    prompt_cached_tokens: int = 0  # cache hit at first admission (reported in the output)
    admissions: int = 0
    generator: torch.Generator | None = None
    constraint_state: Any = None
    num_forced: int = 0  # tokens appended by jump-forward rather than sampled
    finish_reason: FinishReason | None = None
    prompt_logprobs: list[float] = field(default_factory=list)
    output_logprobs: list[float] = field(default_factory=list)
    output_top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    prompt_top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    # While waiting: the deepest cache node its prompt covered when last ordered, and its depth
    # (see `RadixCache.peek_match`); cleared on admission, since a running request's tail changes.
    match_node: TreeNode | None = None
    match_depth: int = 0
    # A ConcatKV request's leading slots, borrowed from the tree: the branch nodes it locks, and
    # how many slots they give (its `node` stays the root; nothing of it is inserted).
    borrowed_nodes: list[TreeNode] = field(default_factory=list)
    borrowed: int = 0
    token_limit: int = field(init=False)  # prompt + max_tokens: read at every step, so kept

    def __post_init__(self) -> None:
        self.token_limit = self.prompt_len + self.request.sampling.max_tokens

    @property
    def slots(self) -> torch.Tensor:
        """The slots in use, as a tensor sharing `slot_array`'s memory (copy it to keep it)."""
        return torch.from_numpy(self.slot_array[: self.num_slots])

    @slots.setter
    def slots(self, value: torch.Tensor) -> None:
        self.num_slots = 0
        self.put_slots(0, value.numpy())

    def put_slots(self, start: int, values: np.ndarray) -> None:
        """Make `values` the slots from `start` on (dropping any after them)."""
        end = start + len(values)
        if end > len(self.slot_array):
            grown = np.empty(max(end, self.token_limit, 2 * len(self.slot_array)), np.int64)
            grown[: self.num_slots] = self.slot_array[: self.num_slots]
            self.slot_array = grown
        self.slot_array[start:end] = values
        self.num_slots = end

    def clear_slots(self) -> None:
        """Hold no slots (the caller has given them back); the array goes too."""
        self.slot_array, self.num_slots = _NO_SLOTS, 0

    @property
    def output_ids(self) -> list[int]:
        return self.token_ids[self.prompt_len :]

    @property
    def num_pending(self) -> int:
        return len(self.token_ids) - self.num_computed

    @property
    def max_tokens(self) -> int:
        return self.request.sampling.max_tokens

    def banned_tokens(self, eos_ids: frozenset[int]) -> tuple[int, ...]:
        """Tokens the next sample may not be: those that would stop it before `min_tokens`."""
        params = self.request.sampling
        if len(self.token_ids) - self.prompt_len >= params.min_tokens:
            return ()
        return tuple(params.stop_token_ids) + (() if params.ignore_eos else tuple(sorted(eos_ids)))

    @property
    def remaining_tokens(self) -> int:
        return self.token_limit - len(self.token_ids)

    def concat_limit(self) -> int:
        """How many leading tokens a ConcatKV request borrows: the concatenation, short of the
        positions this request must compute itself (see `match_limit`)."""
        concat = self.request.concat
        return 0 if concat is None else min(concat.length, self.match_limit())

    def match_limit(self) -> int:
        """How many leading tokens may come from the cache: at least one token must be computed
        to get logits, and logprob requests must compute from the first scored position on."""
        limit = len(self.token_ids) - 1
        start = self.request.logprob_start
        if start is not None:
            limit = min(limit, max(start - 1, 0))
        return limit
