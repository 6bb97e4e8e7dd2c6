"""order: the plan asks the executor to run the rows in a cache-friendly order.

The order itself is the runtime's: only the executor knows the rows it is given and the model's
tokenizer, which decides where rows' prompts share tokens (`lmc.plan.order`,
plan/README.md says why). This pass records nothing but that it ran (`passes` in the plan);
with it off (`--disable-pass order`), rows run in input order. Guarantee: prompts and outputs are
unchanged.
"""

from __future__ import annotations

from lmc.plan.ir import Graph
from lmc.plan.options import CompileOptions


def order(graph: Graph, options: CompileOptions) -> Graph:
    """Nothing to change in the graph: being in the plan's pass list is the request."""
    return graph
