"""Row order: the rows' first prompts sorted as token sequences.

Sorting is a depth-first walk of the rows' prefix tree: rows that share a prefix run back to
back, so a prefix is computed once and can be evicted for good once its subtree is done. The
executor computes it for the rows it runs, with the model's tokenizer (see plan/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmc.plan.cache_model import (
    PlaceholderIds,
    Tokenize,
    WordPieces,
    instantiate_rows,
    prompt_tokens,
)
from lmc.plan.instantiate import GenOp, RowProgram, SelectOp
from lmc.plan.ir import Graph


def row_order(graph: Graph, rows: list[dict[str, Any]], tokenize: Tokenize | None = None) -> list[int]:
    """Row indices in DFS order of the rows' first-request prompts (ties keep input order);
    rows that cannot be instantiated go last."""
    return order_programs(instantiate_rows(graph, rows), tokenize)


def order_programs(programs: Sequence[RowProgram | None], tokenize: Tokenize | None = None) -> list[int]:
    """`row_order` over rows already started (None: a row that could not be), so that a caller
    that runs them next instantiates each row once."""
    tokenize = tokenize or WordPieces()
    ids = PlaceholderIds()
    keyed: list[tuple[tuple[int, ...], int]] = []
    failed: list[int] = []
    for index, program in enumerate(programs):
        first = next((op for op in program.ops if isinstance(op, (GenOp, SelectOp))), None) if program else None
        prompt = prompt_tokens(program.history(first.state), first, index, tokenize, ids) if program and first else None
        if program is None:
            failed.append(index)
        else:
            keyed.append((prompt or (), index))
    keyed.sort()
    return [i for _, i in keyed] + failed

