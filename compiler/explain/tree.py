"""`lmc explain` as text: a rich tree of the graph, then tables (constraints, order, cache plan)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text as RichText
from rich.tree import Tree

from lmc.compiler.explain.describe import describe
from lmc.plan.cache_model import Prediction
from lmc.plan.ir import ENTRY, Graph

if TYPE_CHECKING:
    from lmc.plan.file import Plan

STYLES = {"prefix": "bold green", "text": "", "role": "dim", "gen": "bold cyan", "select": "bold cyan",
          "fork": "yellow", "control": "blue", "dynamic": "bold magenta", "other": "dim"}


def plan_tree(graph: Graph) -> Tree:
    label = describe(graph, ENTRY)
    root = Tree(RichText(label.text, style="bold"))
    _add(graph, ENTRY, root)
    return root


def _add(graph: Graph, owner: str, parent: Tree) -> None:
    arms = graph.node(owner).arms
    for arm in arms:
        target = parent.add(RichText(arm, style="italic blue")) if len(arms) > 1 else parent
        for node_id in graph.block(owner, arm):
            label = describe(graph, node_id)
            branch = target.add(RichText(f"{node_id}  {label.text}", style=STYLES[label.category]))
            _add(graph, node_id, branch)


def stats_line(plan: Plan) -> str:
    stats = plan.stats()
    parts = [f"{v} {k.replace('_', ' ')}" for k, v in stats.items()]
    return f"{plan.name}: " + ", ".join(parts) + f"; passes: {', '.join(plan.graph.meta.get('passes', [])) or 'none'}"


def constraints_table(graph: Graph) -> Table | None:
    table_data = graph.meta.get("constraints", {})
    if not table_data:
        return None
    table = Table(title="constraints (compiled ahead of time)", title_justify="left")
    for col in ("key", "kind", "source", "DFA states", "transitions"):
        table.add_column(col, justify="right" if col in ("DFA states", "transitions") else "left")
    for key, entry in sorted(table_data.items()):
        source = entry["source"] if len(entry["source"]) <= 48 else entry["source"][:47] + "…"
        table.add_row(key, entry["kind"], source, str(entry["dfa_states"] or "-"), str(entry["dfa_transitions"] or "-"))
    return table


def cache_tables(prediction: Prediction) -> list[RenderableType]:
    p = prediction
    summary = Table(title=f"cache plan: {p.rows} rows, tokenizer {p.tokenizer}", title_justify="left", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("requests known before the run", f"{p.requests:,}")
    summary.add_row("prompt tokens", f"{p.prompt_tokens:,}")
    summary.add_row("predicted cached tokens (prefill saved)", f"{p.cached_tokens:,}")
    summary.add_row("predicted prefill tokens", f"{p.prompt_tokens - p.cached_tokens:,}")
    summary.add_row("predicted hit rate", f"{p.hit_rate:.1%}")
    if p.failed_rows:
        summary.add_row("rows that cannot be instantiated", str(p.failed_rows))
    out: list[RenderableType] = [summary]
    if p.groups:
        groups = Table(title="shared prefix groups", title_justify="left")
        for col in ("prefix", "shared by", "tokens", "computed", "tokens saved"):
            groups.add_column(col, justify="left" if col in ("prefix", "shared by") else "right")
        for g in p.groups:
            who = f"{g.sharers} rows" if g.scope == "rows" else f"{g.sharers} branches"
            groups.add_row(g.node, who, str(g.tokens), f"{g.instances}×", f"{g.saved:,}")
        out.append(groups)
    return out
