"""What a caller hands the engine, and what it gets back."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmc.plan.sampling import SamplingParams

if TYPE_CHECKING:
    from lmc.grammars.constraint import Constraint


class FinishReason(str, enum.Enum):
    STOP = "stop"  # a stop string or stop token id
    EOS = "eos"
    LENGTH = "length"  # max_tokens reached
    CONSTRAINT = "constraint"  # the constraint reached an accepting state with no way forward
    ABORT = "abort"


@dataclass
class RequestOutput:
    """The result of one request; `output_ids` never include a matched stop string's tokens' text
    in `text`, but do keep the ids the model produced (so later prompts can reuse them exactly)."""

    rid: str
    prompt_len: int
    output_ids: list[int]
    text: str
    finish_reason: FinishReason
    cached_tokens: int = 0
    prompt_logprobs: list[float] | None = None  # for positions logprob_start .. prompt_len-1
    prompt_top_logprobs: list[list[tuple[int, float]]] | None = None  # (id, logprob), best first, same positions
    error: str | None = None  # why a request that finished elsewhere (an API backend) failed
    output_logprobs: list[float] | None = None  # log p of each output token (Request.logprobs set)
    output_top_logprobs: list[list[tuple[int, float]]] | None = None  # (token id, log p), best first


@dataclass(frozen=True)
class ConcatKV:
    """SGLang's join(mode="concate_and_append") for a request whose `input_ids` begin with
    prefix + branch_1 + ... + branch_k (`prefix` and `branches` are token counts).

    Those positions take their KV from the cache: the KV of prefix + branch_i, exactly as each
    branch computed it (positions from `prefix` on, attending to the prefix and itself), laid
    side by side; the tokens after them sit at their index in the whole sequence and attend to
    all of it. Every prefix + branch_i must stay cached (pinned) until the request finishes. The
    request's own KV is keyed by no plain token sequence, so it never enters the cache."""

    prefix: int
    branches: tuple[int, ...]

    @property
    def length(self) -> int:
        return self.prefix + sum(self.branches)

    def paths(self, ids: list[int]) -> list[list[int]]:
        """Each branch's own token sequence: the prefix, then that branch."""
        out, start = [], self.prefix
        for n in self.branches:
            out.append(ids[: self.prefix] + ids[start : start + n])
            start += n
        return out


@dataclass
class Request:
    """One generation: a prompt as token ids (never re-tokenized), sampling, optional constraint.

    `priority` is the plan's order hint: lower runs earlier among requests of equal cache hit.
    `logprob_start=k` asks for the log-probability of every prompt token at positions >= k given
    the tokens before it (used to score `select` choices); positions >= k-1 are then computed even
    when cached; `top_logprobs=n` adds each scored position's n likeliest tokens. `pin=True` keeps the request's KV locked in the cache after it finishes, until
    `Engine.unpin(rid)`: a hoisted prefix stays resident while its dependants run.
    `constraint_source` is what `constraint` was compiled from (`{"regex": pattern}` or
    `{"grammar": text}`), for backends that constrain at a remote endpoint.
    `logprobs=k` (not None) asks for the log-probability of every output token under the model's
    distribution (before temperature, penalties and masks) and its k most likely tokens at each
    position; such a request is never jumped forward, so every output token is scored.
    `concat` (a ConcatKV) takes the KV of the prompt's first tokens from cached branches.
    `on_token(rid, token_id)` is called with each new token id as it is appended; a jump-forward
    may re-tokenize the newest, not yet computed token with the forced text, so the final ids are
    those of the RequestOutput.
    """

    input_ids: list[int]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    rid: str = ""
    constraint: Constraint | None = None
    priority: int = 0
    logprob_start: int | None = None
    top_logprobs: int = 0
    pin: bool = False
    logprobs: int | None = None
    concat: ConcatKV | None = None
    constraint_source: dict[str, str] | None = None
    on_token: Callable[[str, int], Any] | None = None
    on_finish: Callable[[RequestOutput], Any] | None = None


__all__ = ["ConcatKV", "FinishReason", "Request", "RequestOutput", "SamplingParams"]
