"""Expressions back to readable Python-like text, for error messages and `lmc explain`."""

from __future__ import annotations

from lmc.plan.expr.nodes import (
    BinOp,
    BoolOp,
    Call,
    Comp,
    Compare,
    Const,
    DictOf,
    Expr,
    Format,
    FString,
    Global,
    IfExp,
    Method,
    Name,
    Pattern,
    Ref,
    Seq,
    Slice,
    StateText,
    Subscript,
    UnaryOp,
    Var,
)

_CMP = {"notin": "not in", "isnot": "is not"}


def unparse(expr: Expr | None, limit: int = 0) -> str:
    """Python-like source for `expr`; with `limit`, long results are cut with an ellipsis."""
    text = _unparse(expr) if expr is not None else ""
    if limit and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def render_pattern(p: Pattern) -> str:
    if isinstance(p, str):
        return p
    return "(" + ", ".join(render_pattern(x) for x in p) + ("," if len(p) == 1 else "") + ")"


def _args(args: tuple[Expr, ...], kwargs: tuple[tuple[str, Expr], ...]) -> str:
    return ", ".join([_unparse(a) for a in args] + [f"{k}={_unparse(v)}" for k, v in kwargs])


def _fpart(p: Expr) -> str:
    if isinstance(p, Const):
        return str(p.value).replace("{", "{{").replace("}", "}}")
    if isinstance(p, Format):
        conv = f"!{p.conversion}" if p.conversion else ""
        spec = f":{_fpart(p.spec) if not isinstance(p.spec, FString) else ''.join(_fpart(x) for x in p.spec.parts)}" if p.spec is not None else ""
        return "{" + _unparse(p.value) + conv + spec + "}"
    return "{" + _unparse(p) + "}"


def _unparse(e: Expr) -> str:
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, Name):
        return e.id
    if isinstance(e, Var):
        return f"{_unparse(e.state)}.json({_unparse(e.name)})" if e.as_json else f"{_unparse(e.state)}[{_unparse(e.name)}]"
    if isinstance(e, Ref):
        return f"<value #{e.op}>"
    if isinstance(e, StateText):
        return f"{_unparse(e.state)}.text()"
    if isinstance(e, Global):
        return e.name.split(":", 1)[-1]
    if isinstance(e, FString):
        return "f" + repr("".join(_fpart(p) for p in e.parts))
    if isinstance(e, Format):
        return "f" + repr(_fpart(e))
    if isinstance(e, BinOp):
        return f"({_unparse(e.left)} {e.op} {_unparse(e.right)})"
    if isinstance(e, UnaryOp):
        return f"{e.op} {_unparse(e.operand)}" if e.op == "not" else f"{e.op}{_unparse(e.operand)}"
    if isinstance(e, BoolOp):
        return "(" + f" {e.op} ".join(_unparse(v) for v in e.values) + ")"
    if isinstance(e, Compare):
        rest = " ".join(f"{_CMP.get(op, op)} {_unparse(c)}" for op, c in zip(e.ops, e.comparators))
        return f"{_unparse(e.left)} {rest}"
    if isinstance(e, IfExp):
        return f"({_unparse(e.body)} if {_unparse(e.test)} else {_unparse(e.orelse)})"
    if isinstance(e, Call):
        return f"{e.func}({_args(e.args, e.kwargs)})"
    if isinstance(e, Method):
        return f"{_unparse(e.obj)}.{e.method}({_args(e.args, e.kwargs)})"
    if isinstance(e, Subscript):
        return f"{_unparse(e.value)}[{_unparse(e.index)}]"
    if isinstance(e, Slice):
        parts = [_unparse(p) if p is not None and not (isinstance(p, Const) and p.value is None) else ""
                 for p in (e.lower, e.upper, e.step)]
        return ":".join(parts[:2] if not parts[2] else parts)
    if isinstance(e, Seq):
        inner = ", ".join(_unparse(x) for x in e.elts)
        return f"[{inner}]" if e.kind == "list" else f"({inner}{',' if len(e.elts) == 1 else ''})"
    if isinstance(e, DictOf):
        return "{" + ", ".join(f"{_unparse(k)}: {_unparse(v)}" for k, v in zip(e.keys, e.values)) + "}"
    if isinstance(e, Comp):
        fors = " ".join(
            f"for {render_pattern(g.target)} in {_unparse(g.iter)}" + "".join(f" if {_unparse(c)}" for c in g.ifs)
            for g in e.generators
        )
        if e.kind == "dict" and e.key is not None:
            return "{" + f"{_unparse(e.key)}: {_unparse(e.elt)} {fors}" + "}"
        body = f"{_unparse(e.elt)} {fors}"
        return f"[{body}]" if e.kind == "list" else f"({body})"
    return type(e).__name__
