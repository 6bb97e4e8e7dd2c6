"""The one sampling record: what `lmc.gen(...)` asks for and what the engine decodes with.

`GenCall.sampling` (plan/language.py) is one of these, and the engine's `Request.sampling` is the
same type, so a new decoding knob is a field here (plus its argument and check in `lmc.gen`,
and its use in the sampler); the executor passes the record through, adding only the seed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingParams:
    """Per-request decoding knobs; the defaults are greedy decoding of up to 128 tokens.

    `max_tokens=0` asks for a prefill only: the prompt's KV is computed and cached (used to
    score `select` choices, to prefetch a prefix early, and to pin a hoisted prefix)."""

    max_tokens: int = 128
    min_tokens: int = 0  # no stop (EOS, stop ids, stop strings) before this many tokens
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
        if not 0 <= self.min_tokens <= max(self.max_tokens, 0):
            raise ValueError(f"min_tokens must be in [0, max_tokens], got {self.min_tokens}")
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
