"""`lmc explain --format html`: one self-contained page (no external files, no scripts).

The page holds what a person checking a plan wants side by side: the summary, the graph as
inline SVG (when Graphviz is installed), the program as an outline with shared prefixes and
dynamic regions highlighted, the constraint table, the row order, and the cache plan.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from lmc.compiler.explain.describe import describe
from lmc.compiler.explain.dot import GraphvizMissing, to_dot, to_svg
from lmc.compiler.explain.tree import stats_line
from lmc.plan.cache_model import Prediction
from lmc.plan.ir import ENTRY, Graph

if TYPE_CHECKING:
    from lmc.plan.file import Plan

CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #222; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.sub { color: #666; } .note { color: #8a5a00; background: #fff6e0; padding: .4rem .6rem; }
.graph { overflow: auto; border: 1px solid #ddd; padding: .5rem; background: #fff; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.2rem; border-left: 1px dotted #bbb; margin: 0; }
ul.tree li { font-family: ui-monospace, Menlo, monospace; font-size: .85rem; white-space: pre-wrap; }
.id { color: #999; margin-right: .6rem; } .arm { color: #3355aa; font-style: italic; }
.prefix { background: #d9f5d9; } .gen, .select { color: #0b5cad; font-weight: 600; }
.dynamic { background: #f7dcf7; } .fork { color: #8a6d00; } .role, .other { color: #777; }
.control { color: #3333aa; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ddd; padding: .25rem .6rem; }
th { background: #f4f4f4; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 1.6rem; font-weight: 600; color: #1a7f37; }
"""


def to_html(plan: Plan, prediction: Prediction | None = None, note: str = "") -> str:
    graph = plan.graph
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lmc plan: {html.escape(plan.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>lmc plan: {html.escape(plan.name)}</h1>",
        f'<p class="sub">{html.escape(stats_line(plan))}</p>',
    ]
    if prediction is not None:
        parts += _cache_section(prediction, note)
    parts += ["<h2>Graph</h2>", _graph_section(graph)]
    parts += ["<h2>Program</h2>", '<ul class="tree">', *_tree(graph, ENTRY), "</ul>"]
    parts += _constraints_section(graph)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _graph_section(graph: Graph) -> str:
    try:
        svg = to_svg(to_dot(graph))
    except (GraphvizMissing, RuntimeError) as exc:
        return f'<p class="note">{html.escape(str(exc))}; the outline below shows the same graph.</p>'
    svg = re.sub(r"^.*?(<svg\b)", r"\1", svg, flags=re.S)  # drop the XML prolog and doctype
    return f'<div class="graph">{svg}</div>'


def _tree(graph: Graph, owner: str) -> list[str]:
    out: list[str] = []
    arms = graph.node(owner).arms
    for arm in arms:
        if len(arms) > 1:
            out.append(f'<li><span class="arm">{arm}</span><ul>')
        for node_id in graph.block(owner, arm):
            label = describe(graph, node_id)
            out.append(f'<li><span class="id">{node_id}</span><span class="{label.category}">'
                       f"{html.escape(label.text)}</span>")
            children = _tree(graph, node_id)
            if children:
                out += ["<ul>", *children, "</ul>"]
            out.append("</li>")
        if len(arms) > 1:
            out.append("</ul></li>")
    return out


def _constraints_section(graph: Graph) -> list[str]:
    table = graph.meta.get("constraints", {})
    if not table:
        return []
    rows = "".join(
        f"<tr><td>{key}</td><td>{html.escape(e['kind'])}</td><td><code>{html.escape(e['source'][:200])}</code></td>"
        f"<td class=n>{e['dfa_states'] or '-'}</td><td class=n>{e['dfa_transitions'] or '-'}</td></tr>"
        for key, e in sorted(table.items())
    )
    return ["<h2>Constraints (compiled ahead of time)</h2>",
            "<table><tr><th>key</th><th>kind</th><th>source</th><th>DFA states</th><th>transitions</th></tr>"
            f"{rows}</table>"]


def _cache_section(p: Prediction, note: str) -> list[str]:
    out = ["<h2>Cache plan</h2>",
           f'<p><span class="big">{p.hit_rate:.1%}</span> predicted hit rate over {p.rows} rows '
           f"(tokenizer {html.escape(p.tokenizer)}): {p.cached_tokens:,} of {p.prompt_tokens:,} prompt tokens "
           f"need no prefill; {p.prompt_tokens - p.cached_tokens:,} remain, in {p.requests:,} requests known before the run.</p>"]
    if note:
        out.append(f'<p class="note">{html.escape(note)}</p>')
    if p.groups:
        rows = "".join(
            f"<tr><td>{g.node}</td><td>{g.sharers} {'rows' if g.scope == 'rows' else 'branches'}</td>"
            f"<td class=n>{g.tokens}</td><td class=n>{g.instances}×</td><td class=n>{g.saved:,}</td></tr>"
            for g in p.groups
        )
        out.append("<table><tr><th>shared prefix</th><th>shared by</th><th>tokens</th><th>computed</th>"
                   f"<th>tokens saved</th></tr>{rows}</table>")
    return out
