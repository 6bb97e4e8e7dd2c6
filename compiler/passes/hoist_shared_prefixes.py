"""hoist_shared_prefixes: name the prompt text that many requests share, so it is computed once.

Guarantees: every state's rendered prompt is unchanged for every row (Prefix pieces are the same
text, in the same place). What changes is that shared text is marked:
- rows: the leading text of `s` that depends on no input and no gen becomes one constant Prefix
  (scope "rows") at the start of the program; the executor prefills it once and pins it.
- forks: the leading text of a loop over a fresh fork's branches that is the same in every
  iteration becomes a Prefix (scope "forks") at the start of the loop body; its text is computed
  per row, then prefilled once for all branches.
- choices: a select whose constant choices share a leading string records it (`choice_prefix`),
  so scoring can share that text's KV as well as the prompt's.
A hoisted row prefix never ends in whitespace (it moves to the next piece): tokenizers attach
spaces to the following word, so the prefix's tokens stay a prefix of every row's tokens.
"""

from __future__ import annotations

import os
from dataclasses import replace

from lmc.compiler.passes.prefix_forks import hoist_forks
from lmc.compiler.passes.prefix_rows import hoist_rows
from lmc.plan.expr import Const
from lmc.plan.ir import (
    Graph,
    Select,
)
from lmc.plan.options import CompileOptions


def hoist_shared_prefixes(graph: Graph, options: CompileOptions) -> Graph:
    """Mark text shared across rows, across a fork's branches and across a select's choices."""
    graph = graph.copy()
    hoist_rows(graph)
    hoist_forks(graph)
    for node_id, node in graph.nodes_of(Select):
        assert isinstance(node, Select)
        if isinstance(node.choices, Const) and len(node.choices.value) > 1:
            common = os.path.commonprefix(list(node.choices.value))
            if common:
                graph.replace(node_id, replace(node, choice_prefix=common))
    return graph
