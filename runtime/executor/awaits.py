"""What a row's coroutines yield to the driver, and what they are resumed with.

A state coroutine never talks to the engine itself: it yields one of these and the driver, which
sees every row at once, submits the work of many rows together and resumes each coroutine when
its part is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmc.runtime.request import Request


@dataclass(frozen=True)
class Submit:
    """Run these requests; resumed with their outputs in the same order. With `wait=False` the
    coroutine goes on at once and the outputs are dropped (a prefetch: only the KV it leaves in
    the cache matters). `node` is the plan node they serve, for metrics and error messages.
    `modeled` relates them to the cache model (lmc.plan) (see RowRun.modeled): "request" for
    the gens and selects it predicts, "helper" for a prefill made on their behalf (its computed
    tokens are theirs), None otherwise."""

    requests: tuple[Request, ...]
    node: str
    kind: str
    wait: bool = True
    modeled: str | None = None


@dataclass(frozen=True)
class Pin:
    """Make sure the prompt `ids` is prefilled and locked in the cache; resumed (with None) once
    it is. The first row to ask submits it, the rest wait for that one request. `keep`: hold the
    pin until the whole run ends (a prefix of every row), else until the asking rows finish."""

    ids: tuple[int, ...]
    node: str
    keep: bool


class Block:
    """Nothing to do until the row changes (a value recorded, an op emitted, a state moved on)."""

    def __repr__(self) -> str:
        return "BLOCK"


BLOCK = Block()

Await = Submit | Pin | Block
