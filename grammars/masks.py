"""Batch masks for a batch whose requests use different constraints (or none)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

from lmc.grammars.constraint import Constraint


def fill_masks(pairs: Sequence[tuple[Constraint | None, Hashable]], out: torch.Tensor) -> torch.Tensor:
    """Row i of `out` (bool `[B, vocab]`) becomes the mask of `pairs[i] = (constraint, state)`;
    rows without a constraint allow everything. Rows sharing a constraint are filled together
    through its `fill_mask` when it has one (TokenFSM), else one `allowed_tokens` at a time."""
    groups: dict[int, tuple[Constraint, list[int]]] = {}
    for i, (constraint, _) in enumerate(pairs):
        if constraint is None:
            out[i] = True
        else:
            groups.setdefault(id(constraint), (constraint, []))[1].append(i)
    for constraint, rows in groups.values():
        states = [pairs[i][1] for i in rows]
        fill = getattr(constraint, "fill_mask", None)
        if fill is not None and rows == list(range(rows[0], rows[0] + len(rows))):
            fill(states, out[rows[0] : rows[0] + len(rows)])
        elif fill is not None:
            block = torch.empty((len(rows), out.shape[1]), dtype=torch.bool)
            fill(states, block)
            out[torch.tensor(rows, device=out.device)] = block.to(out.device)
        else:
            for i, state in zip(rows, states):
                out[i] = constraint.allowed_tokens(state).to(out.device)
    return out
