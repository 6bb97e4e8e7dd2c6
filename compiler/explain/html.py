"""`lmc explain --format html`: one self-contained page (no external files, no scripts).

Top to bottom: the summary; the cache plan (where every saved token comes from, in a table that
sums to the total) and, with `--metrics`, predicted beside measured per node and per prefix with
large differences highlighted; the graph with its legend, scaled to the page width; the steps
as an outline whose regions fold (`<details>`); the constraints and the row order.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmc.compiler.explain.dot import FILL, MEANING, GraphvizMissing, to_dot, to_svg
from lmc.compiler.explain.picture import Item, Picture, Region, RoleTexts, Step
from lmc.compiler.explain.tree import stats_line
from lmc.plan.cache_model import SAVED_BY, Prediction
from lmc.words import plural

if TYPE_CHECKING:
    from lmc.plan.file import Plan

OFF_BY = 0.05  # a measured hit rate this far from the prediction is highlighted

CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, sans-serif; margin: 1.5rem auto; max-width: 72rem;
       color: #222; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.sub { color: #666; } .note { color: #8a5a00; background: #fff6e0; padding: .4rem .6rem; }
.graph { border: 1px solid #ddd; padding: .5rem; background: #fff; }
.graph svg { max-width: 100%; height: auto; display: block; margin: auto; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; font-size: .85rem; }
.swatch { display: inline-block; width: 1.6rem; height: .9rem; border: 1px solid #999; border-radius: 3px;
          vertical-align: middle; margin-right: .35rem; }
.arrow { display: inline-block; width: 1.6rem; border-top: 2px solid #555; vertical-align: middle; margin-right: .35rem; }
.arrow.data { border-top: 2px dashed #cc3333; }
ol.steps, ol.steps ol { list-style: none; padding-left: 1.1rem; margin: 0; }
ol.steps li { font-family: ui-monospace, Menlo, monospace; font-size: .85rem; white-space: pre-wrap;
              overflow-wrap: anywhere; }
details { border-left: 2px solid #c9c9e0; padding-left: .4rem; margin: .15rem 0; }
details.lane { border-left-color: #c9a400; } summary { cursor: pointer; color: #3355aa; }
.key { color: #999; margin-right: .6rem; }
.prefix { background: #d9f5d9; } .gen, .select { color: #0b5cad; font-weight: 600; }
.dynamic { background: #f7dcf7; } .fork { color: #8a6d00; } .role, .other { color: #777; }
.control { color: #3333aa; } .call { color: #a04a00; font-weight: 600; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ddd; padding: .25rem .6rem; }
th { background: #f4f4f4; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #999; } td.off { background: #ffe0e0; font-weight: 600; }
.big { font-size: 1.6rem; font-weight: 600; color: #1a7f37; }
"""


@dataclass
class Measured:
    """What `lmc run --metrics` wrote, as the page needs it: the measured figures and the
    prediction the run made for its own rows with its model's tokenizer (the one to compare)."""

    hit_rate: float
    modeled_hit_rate: float
    nodes: dict[tuple[str, str], dict[str, Any]]  # (node, kind) -> its entry
    prediction: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measured:
        try:
            cache = data["cache"]
            nodes = {(n["node"], n["kind"]): n for n in data["nodes"]}
            return cls(cache["measured_hit_rate"], cache["modeled_hit_rate"], nodes, cache.get("prediction") or {})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a metrics file written by `lmc run --metrics` (missing {exc})") from None


def to_html(plan: Plan, prediction: Prediction | None = None, note: str = "", roles: RoleTexts | None = None,
            measured: Measured | None = None) -> str:
    graph = plan.graph
    picture = Picture(graph, roles)
    keys: dict[str, str] = {}
    for step in picture.steps():
        for node in step.nodes:
            keys.setdefault(node, step.key)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>lmc plan: {html.escape(plan.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>lmc plan: {html.escape(plan.name)}</h1>",
        f'<p class="sub">{html.escape(stats_line(plan))}</p>',
    ]
    if note:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    if prediction is not None:
        parts += _cache_section(prediction)
    if measured is not None:
        parts += _measured_section(measured, keys)
    parts += ["<h2>Graph</h2>", _legend({s.category for s in picture.steps()}), _graph_section(plan, roles)]
    parts += ["<h2>Steps</h2>", '<ol class="steps">', *_outline(picture.items), "</ol>"]
    parts += _constraints_section(graph.meta.get("constraints", {}))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _legend(categories: set[str]) -> str:
    items = [f'<li><span class="swatch" style="background:{FILL[c]}"></span>{html.escape(MEANING[c])}</li>'
             for c in MEANING if c in categories]
    items += ['<li><span class="swatch" style="background:#fffbea;border-color:#c9a400"></span>'
              "fork branches (side by side, joined by the next step)</li>",
              '<li><span class="arrow"></span>order of the prompt</li>',
              '<li><span class="arrow data"></span>generated value or call result read here</li>']
    return f'<ul class="legend" id="legend">{"".join(items)}</ul>'


def _graph_section(plan: Plan, roles: RoleTexts | None) -> str:
    try:
        svg = to_svg(to_dot(plan.graph, roles))
    except (GraphvizMissing, RuntimeError) as exc:
        return f'<p class="note">{html.escape(str(exc))}; the steps below show the same graph.</p>'
    svg = re.sub(r"^.*?(<svg\b)", r"\1", svg, flags=re.S)  # drop the XML prolog and doctype
    return f'<div class="graph">{svg}</div>'


def _outline(items: list[Item] | list[Step | Region]) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Step):
            out.append(f'<li><span class="key">{item.key}</span><span class="{item.category}">'
                       f"{html.escape(item.text)}</span></li>")
        elif isinstance(item, Region):
            out += _region(item, "region")
        else:
            for lane in item.lanes:
                out += _region(lane, "lane")
    return out


def _region(region: Region, css: str) -> list[str]:
    return [f'<li><details class="{css}" open><summary>{html.escape(region.title)}</summary><ol>',
            *_outline(region.items), "</ol></details></li>"]


def _constraints_section(table: dict[str, Any]) -> list[str]:
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


def _cache_section(p: Prediction) -> list[str]:
    out = ["<h2>Cache plan (predicted)</h2>",
           f'<p><span class="big">{p.hit_rate:.1%}</span> predicted hit rate over {plural(p.rows, "row")} '
           f"(tokenizer {html.escape(p.tokenizer)}): {p.cached_tokens:,} of {p.prompt_tokens:,} prompt tokens "
           f"need no prefill; {p.prompt_tokens - p.cached_tokens:,} remain, in "
           f"{plural(p.requests, 'request')} known before the run.</p>"]
    rows = "".join(f"<tr><td>{html.escape(SAVED_BY[k])}</td><td class=n>{n:,}</td>"
                   f"<td class=n>{n / p.cached_tokens if p.cached_tokens else 0:.1%}</td></tr>"
                   for k, n in p.saved_by.items())
    out.append('<table id="saved-by"><tr><th>where the saved tokens come from</th><th>tokens</th><th>share</th></tr>'
               f'{rows}<tr class="total"><td>total saved</td><td class=n>{sum(p.saved_by.values()):,}</td>'
               "<td class=n>100%</td></tr></table>")
    if p.groups:
        rows = "".join(
            f"<tr><td>{g.node}</td><td>{plural(g.sharers, 'row') if g.scope == 'rows' else plural(g.sharers, 'branch', 'branches')}</td>"
            f"<td class=n>{g.tokens}</td><td class=n>{g.instances}×</td><td class=n>{g.saved:,}</td></tr>"
            for g in p.groups
        )
        out.append("<table><tr><th>hoisted prefix</th><th>shared by</th><th>tokens</th><th>computed</th>"
                   f"<th>tokens saved</th></tr>{rows}</table>")
    return out


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _diff_cells(predicted: float | None, measured: float) -> str:
    if predicted is None:
        return f"<td class=n>–</td><td class=n>{measured:.1%}</td><td class=n>–</td>"
    diff = measured - predicted
    off = ' off' if abs(diff) >= OFF_BY else ''
    return (f"<td class=n>{predicted:.1%}</td><td class=n>{measured:.1%}</td>"
            f'<td class="n{off}">{diff * 100:+.1f} points</td>')


def _measured_section(m: Measured, keys: dict[str, str]) -> list[str]:
    p = m.prediction
    out = ["<h2>Predicted and measured (the run's own rows)</h2>"]
    if not p:
        out.append('<p class="note">this metrics file holds no prediction (a run before predictions were '
                   "recorded); rerun `lmc run --metrics` to compare.</p>")
    out.append(f"<p>Measured: {m.hit_rate:.1%} of all prompt tokens came from the cache; on the requests the "
               f"cache model covers, {m.modeled_hit_rate:.1%}, against {_rate(p.get('hit_rate'))} predicted. "
               f"Differences of {OFF_BY * 100:.0f} points or more are highlighted. A select whose prompt waits on "
               "generated text is not predicted (–).</p>")
    predicted_nodes = p.get("nodes", {})
    rows = []
    for (node, kind), entry in sorted(m.nodes.items(), key=lambda e: (len(e[0][0]), e[0])):
        if kind not in ("gen", "select"):
            continue
        reuse = predicted_nodes.get(node)
        rows.append(f"<tr><td>{keys.get(node, '')}</td><td>{node}</td><td>{kind}</td><td class=n>{entry['requests']:,}</td>"
                    + _diff_cells(reuse["hit_rate"] if reuse else None, entry["hit_rate"]) + "</tr>")
    out.append('<table id="per-node"><tr><th>step</th><th>node</th><th>kind</th><th>requests</th>'
               f"<th>predicted hit</th><th>measured hit</th><th>difference</th></tr>{''.join(rows)}</table>")
    groups = {g["node"]: g for g in p.get("prefix_groups", [])}
    rows = []
    for node, g in sorted(groups.items()):
        computed = m.nodes.get((node, "prefix"), {}).get("requests", 0)
        predicted = g.get("instances")
        off = " off" if predicted is not None and computed != predicted else ""
        rows.append(f"<tr><td>{keys.get(node, '')}</td><td>{node}</td><td class=n>{g['tokens']}</td>"
                    f"<td class=n>{'–' if predicted is None else predicted}</td><td class=\"n{off}\">{computed}</td></tr>")
    if rows:
        out.append('<table id="per-prefix"><tr><th>step</th><th>hoisted prefix</th><th>tokens</th>'
                   f"<th>predicted: computed times</th><th>measured: prefilled times</th></tr>{''.join(rows)}</table>")
    return out
