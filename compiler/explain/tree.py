"""`lmc explain` as text: a rich tree of the graph, then tables (constraints, order, cache plan)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text as RichText
from rich.tree import Tree

from lmc.compiler.explain.describe import describe
from lmc.compiler.explain.picture import Item, Picture, Region, RoleTexts, Step
from lmc.plan.cache_model import SAVED_BY, Prediction
from lmc.plan.ir import ENTRY, Graph
from lmc.words import plural

if TYPE_CHECKING:
    from lmc.plan.file import Plan

NOUNS = {"nodes": ("node",), "gens": ("gen",), "selects": ("select",), "forks": ("fork",),
         "shared_prefixes": ("shared prefix", "shared prefixes"), "constraints": ("constraint",),
         "dynamic_regions": ("dynamic region",), "host_calls": ("host call",)}
STYLES = {"prefix": "bold green", "text": "", "role": "dim", "gen": "bold cyan", "select": "bold cyan",
          "fork": "yellow", "control": "blue", "dynamic": "bold magenta", "call": "bold dark_orange",
          "other": "dim"}


def plan_tree(graph: Graph, roles: RoleTexts | None = None) -> Tree:
    """The picture's steps as a tree: regions and fork lanes are branches of it."""
    root = Tree(RichText(describe(graph, ENTRY).text, style="bold"))
    _add(Picture(graph, roles).items, root)
    return root


def _add(items: list[Item] | list[Step | Region], parent: Tree) -> None:
    for item in items:
        if isinstance(item, Step):
            parent.add(RichText(f"{item.key}. {item.text}", style=STYLES[item.category]))
        elif isinstance(item, Region):
            _add(item.items, parent.add(RichText(item.title, style="italic blue")))
        else:
            for lane in item.lanes:
                _add(lane.items, parent.add(RichText(lane.title, style="yellow")))


def stats_line(plan: Plan) -> str:
    parts = [plural(v, *NOUNS[k]) for k, v in plan.stats().items()]
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
    saved = Table(title="where the saved tokens come from", title_justify="left")
    saved.add_column("source")
    saved.add_column("tokens", justify="right")
    for kind, n in p.saved_by.items():
        saved.add_row(SAVED_BY[kind], f"{n:,}")
    saved.add_section()
    saved.add_row("total saved", f"{sum(p.saved_by.values()):,}", style="bold")
    out.append(saved)
    if p.groups:
        groups = Table(title="shared prefix groups", title_justify="left")
        for col in ("prefix", "shared by", "tokens", "computed", "tokens saved"):
            groups.add_column(col, justify="left" if col in ("prefix", "shared by") else "right")
        for g in p.groups:
            who = plural(g.sharers, "row") if g.scope == "rows" else plural(g.sharers, "branch", "branches")
            groups.add_row(g.node, who, str(g.tokens), f"{g.instances}×", f"{g.saved:,}")
        out.append(groups)
    return out
