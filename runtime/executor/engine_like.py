"""The engine as the executor sees it: lmc's `Engine`, or a baseline that mimics it (the
transformers runner of `lmc bench run`). Everything the executor reads of an engine is here."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lmc.runtime.engine import EngineStats
from lmc.runtime.request import Request, RequestOutput
from lmc.runtime.tokenizer import Tokenizer


@runtime_checkable
class EngineLike(Protocol):
    tokenizer: Tokenizer
    eos_ids: frozenset[int]  # token ids that end a generation
    vocab_size: int  # the model's logits width (constraint masks have this many columns)

    @property
    def reuses_prefixes(self) -> bool:
        """Whether KV computed for one request is reused by later ones (a radix cache). Without
        it, pins, prefetches and a select's shared prefill would compute tokens nobody reads."""
        ...

    def submit(self, request: Request) -> Any: ...

    def step(self) -> list[RequestOutput]: ...

    def has_work(self) -> bool: ...

    def unpin(self, rid: str) -> None: ...

    def stats(self) -> EngineStats: ...
