"""The plan's expression language: nodes, JSON codec, evaluation and rendering."""

from lmc.plan.expr.codec import from_json, to_json
from lmc.plan.expr.evaluate import MISSING, EvalError, Scope, evaluate, reduce
from lmc.plan.expr.nodes import (
    BinOp,
    BoolOp,
    Call,
    Comp,
    Compare,
    CompFor,
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
    free_names,
    pattern_names,
    text_reads,
    var_reads,
    walk,
)
from lmc.plan.expr.render import unparse

__all__ = [
    "BinOp", "BoolOp", "Call", "Comp", "CompFor", "Compare", "Const", "DictOf", "EvalError",
    "Expr", "FString", "Format", "Global", "IfExp", "MISSING", "Method", "Name", "Pattern", "Ref", "Scope",
    "Seq", "Slice", "StateText", "Subscript", "UnaryOp", "Var", "evaluate", "free_names", "from_json",
    "pattern_names", "reduce", "text_reads", "to_json", "unparse", "var_reads", "walk",
]
