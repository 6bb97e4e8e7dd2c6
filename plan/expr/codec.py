"""Expressions to and from JSON: tagged objects, field by field, so a plan never holds code."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lmc.plan.expr.nodes import EXPR_TYPES, CompFor, Const, Expr, Pattern

_TAGS: dict[str, type] = {cls.__name__.lower(): cls for cls in (*EXPR_TYPES, CompFor)}


def to_json(expr: Expr | CompFor | None) -> Any:
    """A JSON value for `expr`; `Const` values are stored as they are (they are JSON already)."""
    if expr is None:
        return None
    if isinstance(expr, Const):
        return {"k": "const", "value": expr.value}
    out: dict[str, Any] = {"k": type(expr).__name__.lower()}
    for f in fields(expr):
        out[f.name] = _encode(getattr(expr, f.name))
    return out


def _encode(value: Any) -> Any:
    if isinstance(value, (*EXPR_TYPES, CompFor)):
        return to_json(value)
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def from_json(data: Any) -> Any:
    """Inverse of `to_json`: lists become tuples (patterns, kwargs), tagged objects become nodes."""
    if data is None:
        return None
    if isinstance(data, list):
        return tuple(from_json(v) for v in data)
    if not isinstance(data, dict):
        return data
    tag = data.get("k")
    cls = _TAGS.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise ValueError(f"unknown expression tag {tag!r}")
    if cls is Const:
        return Const(data["value"])
    return cls(**{f.name: from_json(data[f.name]) for f in fields(cls) if f.name in data})


def pattern_to_json(pattern: Pattern) -> Any:
    return pattern if isinstance(pattern, str) else [pattern_to_json(p) for p in pattern]


def pattern_from_json(data: Any) -> Pattern:
    return data if isinstance(data, str) else tuple(pattern_from_json(p) for p in data)


__all__ = ["to_json", "from_json", "pattern_to_json", "pattern_from_json"]
