"""`lmc explain --format dot|svg`: the picture for Graphviz, top to bottom, with a legend.

Steps are boxes coloured by kind, regions and fork lanes are clusters; a solid arrow is the
order of the prompt, a dashed red one a generated value read later. Labels wrap, so the graph
grows downwards (ranks) rather than sideways.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap

from lmc.compiler.explain.describe import describe
from lmc.compiler.explain.picture import Item, Lanes, Picture, Region, RoleTexts, Step
from lmc.plan.ir import ENTRY, Graph

FILL = {"prefix": "#c8f0c8", "text": "#ffffff", "role": "#f2f2f2", "gen": "#cfe6ff", "select": "#cfe6ff",
        "fork": "#fff2bf", "control": "#e6e6ff", "dynamic": "#f5c6f5", "call": "#ffd9b3",
        "other": "#f8f8f8"}
MEANING = {"prefix": "shared prefix (computed once, reused)", "text": "prompt text", "gen": "gen",
           "select": "select", "fork": "fork / join", "control": "per-row control flow",
           "dynamic": "dynamic region (expanded at run time)",
           "call": "host call (Python, run by the executor)", "other": "assignment or return"}
ORDER_EDGE = 'color="#555555"'
DATA_EDGE = 'style=dashed, color="#cc3333", constraint=false'
WRAP = 44


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH."""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l") + '"'


def _label(text: str) -> str:
    lines = [part for line in text.split("\n") for part in textwrap.wrap(line, WRAP) or [""]]
    return "\n".join(lines) + "\n"


def to_dot(graph: Graph, roles: RoleTexts | None = None) -> str:
    picture = Picture(graph, roles)
    lines = [
        "digraph plan {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, labeljust=l, nodesep=0.25, ranksep=0.3];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        f'  start [label={_quote(_label(describe(graph, ENTRY).text))}, fillcolor="#dddddd", id="step-start"];',
    ]
    edges: list[tuple[str, str]] = []
    ends = _emit(picture.items, ["start"], lines, edges, "  ")
    lines.append('  end [label="end", shape=oval, fillcolor="#dddddd", id="step-end"];')
    edges += [(e, "end") for e in ends]
    lines += [f"  {_id(a)} -> {_id(b)} [{ORDER_EDGE}];" for a, b in edges]
    owners: dict[str, list[str]] = {}
    for step in picture.steps():
        for node in step.nodes:
            owners.setdefault(node, []).append(step.key)
    for u, v, data in sorted(graph.g.edges(data=True), key=lambda e: (e[0], e[1])):
        if data["kind"] == "data":
            for a in owners.get(u, []):
                for b in owners.get(v, []):
                    lines.append(f"  {_id(a)} -> {_id(b)} [{DATA_EDGE}];")
    lines += _legend({s.category for s in picture.steps()})
    lines.append("}")
    return "\n".join(lines) + "\n"


def _id(key: str) -> str:
    return key if key in ("start", "end") else f"s{key}"


def _emit(items: list[Item] | list[Step | Region], before: list[str], lines: list[str],
          edges: list[tuple[str, str]], indent: str) -> list[str]:
    """Write `items` after the steps `before`; returns the steps the next item follows."""
    for item in items:
        if isinstance(item, Step):
            shape = ", shape=component" if item.category == "call" else ""
            lines.append(f'{indent}{_id(item.key)} [label={_quote(_label(f"{item.key}. {item.text}"))}, '
                         f'fillcolor="{FILL[item.category]}"{shape}, id="step-{item.key}", class="step {item.category}"];')
            edges += [(b, item.key) for b in before]
            before = [item.key]
        elif isinstance(item, Region):
            lines.append(f"{indent}subgraph cluster_{item.key} {{")
            lines.append(f'{indent}  label={_quote(_label(item.title))}; style=dashed; color="#8888aa";')
            arms = [i for i in item.items if isinstance(i, Region) and i.kind == "region"]
            if arms and len(arms) == len(item.items):  # the arms of a conditional: both follow `before`
                before = [end for arm in arms for end in _emit([arm], before, lines, edges, indent + "  ")]
            else:
                before = _emit(item.items, before, lines, edges, indent + "  ")
            lines.append(f"{indent}}}")
        else:
            before = _lanes(item, before, lines, edges, indent)
    return before


def _lanes(item: Lanes, before: list[str], lines: list[str], edges: list[tuple[str, str]], indent: str) -> list[str]:
    ends: list[str] = []
    for lane in item.lanes:
        lines.append(f"{indent}subgraph cluster_{lane.key} {{")
        lines.append(f'{indent}  label={_quote(lane.title)}; style="rounded,filled"; fillcolor="#fffbea"; color="#c9a400";')
        ends += _emit(lane.items, before, lines, edges, indent + "  ")
        lines.append(f"{indent}}}")
    return ends  # the branches join: the next step follows every lane


def _legend(categories: set[str]) -> list[str]:
    out = ["  subgraph cluster_legend {", '    label="legend"; style=solid; color="#bbbbbb"; fontsize=10;']
    shown = [c for c in MEANING if c in categories]
    for c in shown:
        shape = ", shape=component" if c == "call" else ""
        out.append(f'    legend_{c} [label={_quote(MEANING[c])}, fillcolor="{FILL[c]}"{shape}, fontsize=9];')
    out.append('    legend_a [label="", shape=point, width=0.05]; legend_b [label="order of the prompt", shape=plaintext, style="", fontsize=9];')
    out.append('    legend_c [label="", shape=point, width=0.05]; legend_d [label="generated value or call result read here", shape=plaintext, style="", fontsize=9];')
    out.append(f"    legend_a -> legend_b [{ORDER_EDGE}]; legend_c -> legend_d [style=dashed, color=\"#cc3333\"];")
    chain = [f"legend_{c}" for c in shown] + ["legend_a", "legend_c"]
    out.append(f'    {" -> ".join(chain)} [style=invis];' if len(chain) > 1 else "")
    out.append("  }")
    return out


def to_svg(dot_text: str) -> str:
    """Render with Graphviz's `dot`; GraphvizMissing (with how to install it) if it is absent."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing("Graphviz's `dot` is not installed (Debian: apt-get install graphviz); "
                              "--format dot writes the graph for it, --format html still works")
    result = subprocess.run([exe, "-Tsvg"], input=dot_text, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.strip()}")
    return result.stdout
