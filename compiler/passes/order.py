"""order: with the rows known, a row order that keeps shared prefixes hot in the cache.

Sorting the rows' first prompts (as token sequences) lexicographically is a depth-first walk of
their prefix tree: rows that share a prefix run back to back, so a prefix is computed once and
can be evicted for good once its subtree is done. Under a memory budget the order is cut into
waves whose newly cached tokens fit the budget. Guarantee: prompts and outputs are unchanged;
only `graph.meta["order"]` is written (`rows`: input indices in run order, position = priority;
`waves`: [start, end) slices of that order). Without inputs the pass does nothing.
"""

from __future__ import annotations

from lmc.plan.ir import Graph
from lmc.plan.options import CompileOptions
from lmc.plan.order import row_order


def order(graph: Graph, options: CompileOptions) -> Graph:
    """Record a cache-friendly row order for `options.inputs` (if given)."""
    if options.inputs is None:
        return graph
    graph = graph.copy()
    result = row_order(graph, list(options.inputs), budget=options.memory_budget_tokens)
    graph.meta["order"] = result.to_json(options.memory_budget_tokens)
    return graph
