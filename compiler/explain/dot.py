"""`lmc explain --format dot|svg`: the graph for Graphviz, arms as clusters, edges by kind."""

from __future__ import annotations

import shutil
import subprocess

from lmc.compiler.explain.describe import describe
from lmc.plan.ir import ENTRY, Graph

FILL = {"prefix": "#c8f0c8", "text": "#ffffff", "role": "#f2f2f2", "gen": "#cfe6ff", "select": "#cfe6ff",
        "fork": "#fff2bf", "control": "#e6e6ff", "dynamic": "#f5c6f5", "other": "#f8f8f8"}
EDGE = {"prompt": 'color="#555555"', "body": 'style=dotted, color="#3355aa"',
        "data": 'style=dashed, color="#cc3333", constraint=false'}


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH."""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    lines = [
        "digraph plan {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, labeljust=l];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        f'  {ENTRY} [label={_quote(describe(graph, ENTRY).text)}, fillcolor="#dddddd"];',
    ]
    _block(graph, ENTRY, lines, "  ")
    for u, v, data in sorted(graph.g.edges(data=True), key=lambda e: (e[0], e[1], e[2]["kind"])):
        label = f", label={_quote(data['arm'])}" if data["kind"] == "body" and data.get("arm") != "body" else ""
        lines.append(f"  {u} -> {v} [{EDGE[data['kind']]}{label}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _block(graph: Graph, owner: str, lines: list[str], indent: str) -> None:
    for arm in graph.node(owner).arms:
        ids = graph.block(owner, arm)
        nested = owner != ENTRY
        if nested:
            lines.append(f"{indent}subgraph cluster_{owner}_{arm} {{")
            lines.append(f'{indent}  label={_quote(arm)}; style=dashed; color="#999999";')
        inner = indent + ("  " if nested else "")
        for node_id in ids:
            label = describe(graph, node_id)
            lines.append(f"{inner}{node_id} [label={_quote(node_id + ': ' + label.text)}, fillcolor=\"{FILL[label.category]}\"];")
            _block(graph, node_id, lines, inner)
        if nested:
            lines.append(f"{indent}}}")


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
