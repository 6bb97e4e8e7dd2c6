"""Batch masks for a batch whose requests use different constraints (or none), and the
expansion of packed bitmasks on whatever device the logits live."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from lmc.grammars.constraint import Constraint

if TYPE_CHECKING:  # torch loads where masks are built, so compiling DFAs (`lmc compile`) never imports it
    import torch


def fill_masks(pairs: Sequence[tuple[Constraint | None, Hashable]], out: torch.Tensor) -> torch.Tensor:
    """Row i of `out` (bool `[B, vocab]`) becomes the mask of `pairs[i] = (constraint, state)`;
    rows without a constraint allow everything. Rows sharing a constraint are filled together,
    through its `fill_mask`."""
    import torch
    groups: dict[int, tuple[Constraint, list[int]]] = {}
    for i, (constraint, _) in enumerate(pairs):
        if constraint is None:
            out[i] = True
        else:
            groups.setdefault(id(constraint), (constraint, []))[1].append(i)
    for constraint, rows in groups.values():
        states = [pairs[i][1] for i in rows]
        if rows == list(range(rows[0], rows[0] + len(rows))):
            constraint.fill_mask(states, out[rows[0] : rows[0] + len(rows)])
        else:
            block = torch.empty((len(rows), out.shape[1]), dtype=torch.bool)
            constraint.fill_mask(states, block)
            out[torch.tensor(rows, device=out.device)] = block.to(out.device)
    return out


def unpack_bitmask(bitmask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Bool `[B, vocab_size]` from an int32 bitmask `[B, ceil(vocab_size / 32)]` (as written by
    `TokenFSM.fill_bitmask`), on the bitmask's device: ship 32x fewer bytes, expand there."""
    import torch
    as_bytes = bitmask.contiguous().view(torch.uint8)
    shifts = torch.arange(8, device=bitmask.device, dtype=torch.uint8)
    bits = (as_bytes.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(bitmask.shape[0], -1)[:, :vocab_size].bool()
