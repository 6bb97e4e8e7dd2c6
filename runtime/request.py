"""What a caller hands the engine, and what it gets back."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmc.grammars.constraint import Constraint


@dataclass(frozen=True)
class SamplingParams:
    """Per-request decoding knobs; the defaults are greedy decoding of up to 128 tokens.

    `max_tokens=0` asks for a prefill only: the prompt's KV is computed and cached (used to
    score `select` choices, to prefetch a prefix early, and to pin a hoisted prefix)."""

    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k == 0 or self.top_k < -1:
            raise ValueError(f"top_k must be -1 (off) or >= 1, got {self.top_k}")
        if not 0 <= self.min_p <= 1:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


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
    error: str | None = None  # why a request that finished elsewhere (an API backend) failed


@dataclass
class Request:
    """One generation: a prompt as token ids (never re-tokenized), sampling, optional constraint.

    `priority` is the plan's order hint: lower runs earlier among requests of equal cache hit.
    `logprob_start=k` asks for the log-probability of every prompt token at positions >= k given
    the tokens before it (used to score `select` choices); positions >= k-1 are then computed even
    when cached. `pin=True` keeps the request's KV locked in the cache after it finishes, until
    `Engine.unpin(rid)`: a hoisted prefix stays resident while its dependants run.
    `constraint_source` is what `constraint` was compiled from (`{"regex": pattern}` or
    `{"grammar": text}`), for backends that constrain at a remote endpoint.
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
    pin: bool = False
    constraint_source: dict[str, str] | None = None
    on_token: Callable[[str, int], Any] | None = None
    on_finish: Callable[[RequestOutput], Any] | None = None
