"""Compiler passes: each a plain function `(Graph, CompileOptions) -> Graph`, switchable off by
name (`CompileOptions.disabled_passes`, `lmc compile --disable-pass NAME`), run in this order."""

from __future__ import annotations

from collections.abc import Callable

from lmc.compiler.passes.hoist_shared_prefixes import hoist_shared_prefixes
from lmc.compiler.passes.merge_forks import merge_forks
from lmc.compiler.passes.order import order
from lmc.compiler.passes.precompile_constraints import precompile_constraints
from lmc.compiler.passes.prefetch_kv import prefetch_kv
from lmc.plan.ir import Graph
from lmc.plan.options import PASS_NAMES, CompileOptions

Pass = Callable[[Graph, CompileOptions], Graph]
PASSES: dict[str, Pass] = {
    "hoist_shared_prefixes": hoist_shared_prefixes,
    "merge_forks": merge_forks,
    "prefetch_kv": prefetch_kv,
    "precompile_constraints": precompile_constraints,
    "order": order,
}
assert tuple(PASSES) == PASS_NAMES


def run_passes(graph: Graph, options: CompileOptions) -> Graph:
    """Run every enabled pass in order; `graph.meta["passes"]` lists those that ran."""
    ran = []
    for name, fn in PASSES.items():
        if options.enabled(name):
            graph = fn(graph, options)
            ran.append(name)
    graph = graph.copy()
    graph.meta["passes"] = ran
    return graph


__all__ = ["PASSES", "Pass", "run_passes", *PASSES]
