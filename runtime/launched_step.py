"""A forward that has been launched but not yet read: the unit of overlap scheduling.

On a GPU the host can schedule and launch step N+1 while step N runs, provided step N's sampled
tokens stay on the device, where step N+1 takes its input ids from. A `LaunchedStep` holds those
tokens, their asynchronous copy on its way to the host, and whose token each one is; the engine
reads it, waiting once, after the next step is already queued behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmc.runtime.sequence import Sequence
from lmc.runtime.step_inputs import StepRows


@dataclass
class LaunchedStep:
    """`sampled[i]` drew `device_tokens[i]`, which belongs at `token_ids[targets[i]]` (a
    placeholder there, or one past the end). A `deferred` step is read only after the next one
    is launched; any other step is read before its `step()` returns."""

    sampled: list[Sequence]
    targets: list[int]
    device_tokens: torch.Tensor
    deferred: bool
    _host_tokens: torch.Tensor
    _ready: torch.cuda.Event | None

    @classmethod
    def start(cls, sampled: list[Sequence], tokens: torch.Tensor, deferred: bool) -> LaunchedStep:
        """Start the copy of `tokens` to the host; nothing here waits for the device."""
        targets = [len(seq.token_ids) for seq in sampled]
        if tokens.device.type != "cuda":
            return cls(sampled, targets, tokens, deferred, tokens, None)
        host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
        host.copy_(tokens, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record()
        return cls(sampled, targets, tokens, deferred, host, ready)

    def tokens(self) -> list[int]:
        """The sampled ids; waits for this step's forward and sampling, not for later steps."""
        if self._ready is not None:
            self._ready.synchronize()
        return self._host_tokens.tolist()

    def copy_into(self, input_ids: torch.Tensor, rows: StepRows) -> None:
        """Write the tokens behind `rows.placeholders` into the device `input_ids` of the next
        forward, stream-ordered after this step's sampling (no host round trip)."""
        if not rows.placeholders:
            return
        index = {id(seq): i for i, seq in enumerate(self.sampled)}
        try:
            sources = [index[id(seq)] for _, seq in rows.placeholders]
        except KeyError:
            raise RuntimeError("a placeholder token does not come from the step in flight") from None
        targets = [row for row, _ in rows.placeholders]
        n = len(targets)
        if targets == sources == list(range(n)):  # a steady decode batch: same order, same rows
            input_ids[:n].copy_(self.device_tokens[:n])
            return
        pairs = torch.tensor([targets, sources], dtype=torch.int64)
        if input_ids.device.type == "cuda":
            pairs = pairs.pin_memory().to(input_ids.device, non_blocking=True)
        input_ids[pairs[0]] = self.device_tokens[pairs[1]]
