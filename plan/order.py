"""Row order: the rows' first prompts sorted as token sequences, cut into memory-budget waves.

Sorting is a depth-first walk of the rows' prefix tree: rows that share a prefix run back to
back, so a prefix is computed once and can be evicted for good once its subtree is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmc.plan.cache_model import (
    PlaceholderIds,
    Tokenize,
    WordPieces,
    instantiate_rows,
    prompt_tokens,
)
from lmc.plan.instantiate import GenOp, SelectOp
from lmc.plan.ir import Graph


@dataclass(frozen=True)
class RowOrder:
    rows: list[int]
    waves: list[tuple[int, int]]

    def to_json(self, budget: int | None) -> dict[str, Any]:
        return {"rows": self.rows, "waves": [list(w) for w in self.waves], "budget_tokens": budget}


def row_order(graph: Graph, rows: list[dict[str, Any]], tokenize: Tokenize | None = None,
              budget: int | None = None) -> RowOrder:
    """DFS order of the rows' first-request prompts; rows that cannot be instantiated go last."""
    tokenize = tokenize or WordPieces()
    ids = PlaceholderIds()
    keyed: list[tuple[tuple[int, ...], int]] = []
    failed: list[int] = []
    for index, program in enumerate(instantiate_rows(graph, rows)):
        first = next((op for op in program.ops if isinstance(op, (GenOp, SelectOp))), None) if program else None
        prompt = prompt_tokens(program.history(first.state), first, index, tokenize, ids) if program and first else None
        if program is None:
            failed.append(index)
        else:
            keyed.append((prompt or (), index))
    keyed.sort()
    order_rows = [i for _, i in keyed] + failed
    return RowOrder(order_rows, _waves([k for k, _ in keyed], len(failed), budget))


def _waves(prompts: list[tuple[int, ...]], tail: int, budget: int | None) -> list[tuple[int, int]]:
    """Cut the sorted prompts where the tokens newly cached in a wave would pass `budget`."""
    total = len(prompts) + tail
    if budget is None or not prompts:
        return [(0, total)] if total else []
    waves, start, used = [], 0, 0
    for i, prompt in enumerate(prompts):
        shared = _common(prompts[i - 1], prompt) if i > start else 0
        new = len(prompt) - shared
        if i > start and used + new > budget:
            waves.append((start, i))
            start, used, new = i, 0, len(prompt)
        used += new
    waves.append((start, total))
    return waves


def _common(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
