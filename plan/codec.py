"""IR graphs to and from plain JSON data (the `nodes`, `edges`, `sources` parts of a plan).

Every node is an object `{"id", "kind", <fields>}`; expressions use the expression codec; spans
are `[source, line, col, end_line, end_col]`. Lists are sorted (nodes by id, edges by ends and
kind), so the same graph always gives the same JSON.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lmc.plan.expr import from_json as expr_from_json
from lmc.plan.expr import to_json as expr_to_json
from lmc.plan.expr.codec import pattern_from_json, pattern_to_json
from lmc.plan.expr.nodes import EXPR_TYPES
from lmc.plan.ir import NODE_TYPES, Entry, Graph, Node, Param, Source, Span
from lmc.plan.ir.graph import natural_key

KINDS: dict[str, type] = {cls.kind: cls for cls in NODE_TYPES}  # type: ignore[attr-defined]
_EXPR_FIELDS = {"state", "value", "name", "choices", "forks", "iter", "test", "path", "frames", "key"}
# Fields added within format version 2: written only when they differ from their default, so a
# plan that does not use them has the bytes it had before they existed.
_LATER_FIELDS = {("select", "args"), ("join", "mode"), ("image", "frames"), ("call", "table"), ("call", "key")}


def node_to_json(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": node.kind}
    for f in fields(node):
        value = getattr(node, f.name)
        if (node.kind, f.name) in _LATER_FIELDS and value == f.default:
            continue
        out[f.name] = _encode(f.name, value)
    return out


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, EXPR_TYPES):
        return expr_to_json(value)
    if name == "target":
        return pattern_to_json(value)
    if name == "targets":
        return [pattern_to_json(p) for p in value]
    if name in ("args", "keywords"):
        return [[k, expr_to_json(v)] for k, v in value]
    if name in ("sizes", "positional"):
        return [expr_to_json(v) for v in value]
    if name == "pieces":
        return [node_to_json(p) for p in value]
    if name == "table":
        return [list(entry) for entry in value]
    if name == "params":
        return [{"name": p.name, "annotation": p.annotation, "default": p.default, "required": p.required}
                for p in value]
    if name == "span":
        return [value.source, value.line, value.col, value.end_line, value.end_col]
    if isinstance(value, tuple):
        return list(value)
    return value


def node_from_json(data: dict[str, Any]) -> Node:
    cls = KINDS[data["kind"]]
    kwargs = {f.name: _decode(cls, f.name, data[f.name]) for f in fields(cls) if f.name in data}
    return cls(**kwargs)  # a field newer than the plan keeps its default


def _decode(cls: type, name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _EXPR_FIELDS and not (cls is Entry and name in ("name", "state")):
        return expr_from_json(value)
    if name == "target":
        return pattern_from_json(value)
    if name == "targets":
        return tuple(pattern_from_json(p) for p in value)
    if name in ("args", "keywords"):
        return tuple((k, expr_from_json(v)) for k, v in value)
    if name in ("sizes", "positional"):
        return tuple(expr_from_json(v) for v in value)
    if name == "pieces":
        return tuple(node_from_json(p) for p in value)
    if name == "table":
        return tuple(tuple(entry) for entry in value)
    if name == "params":
        return tuple(Param(**p) for p in value)
    if name == "span":
        return Span(*value)
    if isinstance(value, list):
        return tuple(value)
    return value


def graph_to_json(graph: Graph) -> dict[str, Any]:
    nodes = [{"id": node_id, **node_to_json(graph.node(node_id))} for node_id in graph.ids()]
    edges = sorted(
        ({"src": u, "dst": v, "kind": d["kind"], **({"arm": d["arm"]} if "arm" in d else {})}
         for u, v, d in graph.g.edges(data=True)),
        key=lambda e: (natural_key(e["src"]), natural_key(e["dst"]), e["kind"]),
    )
    sources = [{"path": s.path, "sha256": s.sha256} for s in graph.sources]
    return {"nodes": nodes, "edges": edges, "sources": sources}


def graph_from_json(data: dict[str, Any], meta: dict[str, Any]) -> Graph:
    graph = Graph(sources=[Source(s["path"], s["sha256"]) for s in data["sources"]], meta=meta)
    for item in data["nodes"]:
        graph.g.add_node(item["id"], node=node_from_json({k: v for k, v in item.items() if k != "id"}))
    for e in data["edges"]:
        key = f"body:{e['arm']}" if e["kind"] == "body" else e["kind"]
        extra = {"arm": e["arm"]} if "arm" in e else {}
        graph.g.add_edge(e["src"], e["dst"], key=key, kind=e["kind"], **extra)
    return graph
