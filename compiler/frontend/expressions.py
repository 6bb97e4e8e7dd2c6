"""Python expressions to plan expressions with their kinds, `(Expr, Kind)`; unsupported forms are
errors. One method per AST node type, found through `ExpressionLowerer.table`; calls are the
`CallLowerer`'s (calls.py)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.calls import CallLowerer
from lmc.compiler.frontend.context import MISSING, Binding, Context
from lmc.compiler.frontend.globals import (
    STATE_METHODS_HINT,
    builtin_name,
    describe,
    is_module,
    json_constant,
    primitive_name,
)
from lmc.compiler.frontend.kinds import PARAM, STATE, Kind
from lmc.plan.expr import (
    BinOp,
    BoolOp,
    Call,
    Comp,
    Compare,
    CompFor,
    Const,
    DictOf,
    EvalError,
    Expr,
    Format,
    FString,
    IfExp,
    Method,
    Name,
    Scope,
    Seq,
    Slice,
    Subscript,
    UnaryOp,
    Var,
    free_names,
    reduce,
    var_reads,
)
from lmc.plan.ir import const_name, name_pattern
from lmc.plan.program import Program

BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}
CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
          ast.In: "in", ast.NotIn: "notin", ast.Is: "is", ast.IsNot: "isnot"}
UNARY = {ast.Not: "not", ast.USub: "-", ast.UAdd: "+"}
UNSUPPORTED = {
    ast.Lambda: ("a lambda cannot be analysed (it could capture the state)",
                 "use a comprehension, or an @lmc.program for steps that touch the state"),
    ast.NamedExpr: ("`:=` is not supported inside programs", "assign on its own line"),
    ast.Yield: ("an lmc program cannot `yield`", "append to the state; outputs are its variables"),
    ast.YieldFrom: ("an lmc program cannot `yield from`", "call the other @lmc.program as other(s, ...)"),
    ast.Await: ("`await` cannot run inside a program", "programs are compiled; the executor runs rows concurrently"),
    ast.Starred: ("`*` unpacking is not supported here", "index the sequence or pass it whole"),
    ast.Set: ("sets are not supported (they are not JSON data)", "use a list"),
    ast.SetComp: ("set comprehensions are not supported", "use a list comprehension"),
}

Lowered = tuple[Expr, Kind]


class ExpressionLowerer:
    """Lowers one expression at a time in `ctx`'s current frame."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.calls = CallLowerer(ctx, self)
        self.table: dict[type[ast.expr], Callable[[Any], Lowered]] = {
            ast.Constant: self.constant,
            ast.Name: self.name,
            ast.Attribute: self.attribute,
            ast.JoinedStr: self.fstring,
            ast.BinOp: self.binop,
            ast.UnaryOp: self.unaryop,
            ast.BoolOp: self.boolop,
            ast.Compare: self.compare,
            ast.IfExp: self.ifexp,
            ast.List: self.list_literal,
            ast.Tuple: self.tuple_literal,
            ast.Dict: self.dict_literal,
            ast.Subscript: self.subscript,
            ast.Call: self.calls.lower,
            ast.ListComp: lambda node: self.comprehension(node, "list"),
            ast.GeneratorExp: lambda node: self.comprehension(node, "gen"),
            ast.DictComp: lambda node: self.comprehension(node, "dict"),
        }

    def lower(self, node: ast.expr) -> Lowered:
        handler = self.table.get(type(node))
        if handler is None:
            raise self.unsupported(node)
        return handler(node)

    def folded(self, node: ast.expr) -> Lowered:
        """Lower, and fold to a constant when nothing in it depends on a row or a gen."""
        expr, kind = self.lower(node)
        if isinstance(expr, Const) or free_names(expr) or var_reads(expr) or K.has_state(kind):
            return expr, kind
        try:
            return reduce(expr, Scope({})), kind
        except EvalError as exc:
            raise self.ctx.error(node, f"this expression fails for every row: {exc}") from None

    def unsupported(self, node: ast.expr) -> Exception:
        message, hint = UNSUPPORTED.get(type(node), (f"{type(node).__name__} expressions are not supported", ""))
        return self.ctx.error(node, message, hint)

    def no_state(self, node: ast.expr, kind: Kind, what: str) -> None:
        if K.has_state(kind):
            raise self.ctx.error(node, f"a state cannot be used in {what}",
                                 "append to it with s += ..., read its variables with s['name']")

    # -- names and constants -------------------------------------------------------------------
    def constant(self, node: ast.Constant) -> Lowered:
        ok, value = json_constant(node.value)
        if not ok:
            raise self.ctx.error(node, f"the constant {node.value!r} is not JSON data", "use str, numbers, bool or None")
        return Const(value), PARAM

    def name(self, node: ast.Name) -> Lowered:
        frame = self.ctx.frame
        binding = frame.bindings.get(node.id)
        if binding is not None:
            return Name(binding.ir), binding.kind
        if node.id in frame.local_names:
            raise self.ctx.error(node, f"`{node.id}` is read before it is assigned", "assign it before this line")
        obj = frame.resolve_global(node.id)
        if obj is MISSING:
            raise self.ctx.error(node, f"name `{node.id}` is not defined")
        ok, value = json_constant(obj)
        if ok:
            return Const(value), PARAM
        raise self._not_a_value(node, node.id, obj)

    def _not_a_value(self, node: ast.AST, label: str, obj: Any) -> Exception:
        if isinstance(obj, Program) or primitive_name(obj) or builtin_name(obj) or is_module(obj):
            return self.ctx.error(node, f"`{label}` can only be called here, not used as a value")
        return self.ctx.error(
            node, f"`{label}` is {describe(obj)}, which a program cannot use",
            "programs read constants (str, numbers, bool, None, lists and dicts of them) and their "
            "inputs; pass anything else in as an input",
        )

    def attribute(self, node: ast.Attribute) -> Lowered:
        obj = self.ctx.static_object(node)
        if obj is not MISSING:
            ok, value = json_constant(obj)
            if ok:
                return Const(value), PARAM
            raise self._not_a_value(node, ast.unparse(node), obj)
        _, kind = self.lower(node.value)
        if kind == STATE:
            raise self.ctx.error(node, f"a state has no attribute `{node.attr}`", STATE_METHODS_HINT)
        raise self.ctx.error(node, "attribute access is not supported inside programs",
                             "pass the value as an input, or call an allowed method")

    # -- text and operators --------------------------------------------------------------------
    def fstring(self, node: ast.JoinedStr) -> Lowered:
        parts: list[Expr] = []
        kinds: list[Kind] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(Const(value.value))
                continue
            assert isinstance(value, ast.FormattedValue)
            inner, kind = self.lower(value.value)
            if K.has_state(kind):
                raise self.ctx.error(value.value, "a state cannot be formatted into text",
                                     "read a variable with s['name']")
            spec = None
            if value.format_spec is not None:
                spec, spec_kind = self.lower(value.format_spec)
                kinds.append(spec_kind)
            conversion = {-1: "", 115: "s", 114: "r", 97: "a"}[value.conversion]
            parts.append(Format(inner, conversion, spec))
            kinds.append(kind)
        return FString(tuple(parts)), K.join(*kinds)

    def binop(self, node: ast.BinOp) -> Lowered:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise self.ctx.error(node, f"the operator {type(node.op).__name__} is not supported", "use + - * / // %")
        left, lk = self.lower(node.left)
        right, rk = self.lower(node.right)
        if op == "+" and lk.tag == rk.tag == "list" and K.has_state(lk) and K.has_state(rk):
            merged = K.merge(lk, rk)
            if merged is not None:
                return BinOp(op, left, right), merged  # forks_a + forks_b: one list of branches
        self.no_state(node.left, lk, "arithmetic (write `s += ...` to append)")
        self.no_state(node.right, rk, "arithmetic (write `s += ...` to append)")
        return BinOp(op, left, right), K.join(lk, rk)

    def unaryop(self, node: ast.UnaryOp) -> Lowered:
        op = UNARY.get(type(node.op))
        if op is None:
            raise self.ctx.error(node, "the operator ~ is not supported")
        operand, kind = self.lower(node.operand)
        self.no_state(node.operand, kind, "an operator")
        return UnaryOp(op, operand), kind if op != "not" else K.join(kind)

    def boolop(self, node: ast.BoolOp) -> Lowered:
        values = [self.lower(node.values[0])]
        with self.ctx.deferring("only sometimes (after `and`/`or`)"):
            values += [self.lower(v) for v in node.values[1:]]
        for v, (_, kind) in zip(node.values, values):
            self.no_state(v, kind, "a condition")
        op = "and" if isinstance(node.op, ast.And) else "or"
        return BoolOp(op, tuple(e for e, _ in values)), K.join(*(k for _, k in values))

    def compare(self, node: ast.Compare) -> Lowered:
        left, lk = self.lower(node.left)
        comps = [self.lower(c) for c in node.comparators]
        for sub, kind in [(node.left, lk), *((c, k) for c, (_, k) in zip(node.comparators, comps))]:
            self.no_state(sub, kind, "a comparison")
        ops = tuple(CMPOPS[type(o)] for o in node.ops)
        return Compare(left, ops, tuple(e for e, _ in comps)), K.join(lk, *(k for _, k in comps))

    def ifexp(self, node: ast.IfExp) -> Lowered:
        test, tk = self.lower(node.test)
        with self.ctx.deferring("only sometimes (in a conditional expression)"):
            body, bk = self.lower(node.body)
            orelse, ok = self.lower(node.orelse)
        for sub, kind in ((node.test, tk), (node.body, bk), (node.orelse, ok)):
            self.no_state(sub, kind, "a conditional expression")
        return IfExp(test, body, orelse), K.join(tk, bk, ok)

    # -- containers ----------------------------------------------------------------------------
    def elements(self, elts: list[ast.expr]) -> tuple[list[Expr], list[Kind]]:
        """Lower the items of a container or the arguments of a call; none may be a state."""
        exprs, kinds = [], []
        for elt in elts:
            if isinstance(elt, ast.Starred):
                raise self.unsupported(elt)
            expr, kind = self.lower(elt)
            if K.has_state(kind):
                raise self.ctx.error(elt, "a state cannot be stored in a container",
                                     "keep states in plain variables; for several, use forks = s.fork(n)")
            exprs.append(expr)
            kinds.append(kind)
        return exprs, kinds

    def list_literal(self, node: ast.List) -> Lowered:
        exprs, kinds = self.elements(node.elts)
        return Seq("list", tuple(exprs)), K.join(*kinds)

    def tuple_literal(self, node: ast.Tuple) -> Lowered:
        exprs, kinds = self.elements(node.elts)
        return Seq("tuple", tuple(exprs)), K.tuple_of(*kinds)

    def dict_literal(self, node: ast.Dict) -> Lowered:
        if any(k is None for k in node.keys):
            raise self.ctx.error(node, "`**` unpacking in a dict is not supported", "write the keys out")
        keys, kk = self.elements([k for k in node.keys if k is not None])
        values, vk = self.elements(node.values)
        return DictOf(tuple(keys), tuple(values)), K.join(*kk, *vk)

    def subscript(self, node: ast.Subscript) -> Lowered:
        value, vk = self.lower(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [self.lower(p) if p is not None else (None, PARAM)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            index: Expr = Slice(*(e for e, _ in parts))
            ik = K.join(*(k for _, k in parts))
        else:
            index, ik = self.lower(node.slice)
        if K.has_state(ik):
            raise self.ctx.error(node.slice, "a state cannot be used as an index")
        if vk == STATE:
            return self.var_read(node, value, index, ik, as_json=False)
        if isinstance(index, Slice):
            return Subscript(value, index), vk if vk.tag == "list" else K.join(vk, ik)
        if vk.tag == "list":
            return Subscript(value, index), vk.items[0] if not K.is_gen(ik) else K.join(vk.items[0], ik)
        if vk.tag == "tuple":
            if isinstance(index, Const) and isinstance(index.value, int) and -len(vk.items) <= index.value < len(vk.items):
                return Subscript(value, index), vk.items[index.value]
            if K.has_state(vk):
                raise self.ctx.error(node, "index a tuple holding states with a constant")
        return Subscript(value, index), K.join(vk, ik)

    def var_read(self, node: ast.expr, state: Expr, name: Expr, name_kind: Kind, as_json: bool) -> Lowered:
        """`s[name]` / `s.json(name)`: a generated value; its name must be known before the run."""
        if K.is_gen(name_kind):
            raise self.ctx.error(node, "a variable name cannot depend on generated text",
                                 "use a name known before the run: a literal or an f-string over inputs")
        literal = const_name(name)
        if literal is None:
            if not isinstance(name, (Name, FString, BinOp, Subscript, Call, Method)):
                raise self.ctx.error(node, "a variable name must be a str")
        else:
            self.ctx.note_read(literal, node)
        return Var(state, name, as_json), K.gen(name_pattern(name))

    # -- comprehensions ------------------------------------------------------------------------
    def comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp, kind: str) -> Lowered:
        with self.ctx.deferring("inside a comprehension (once per item)"):
            return self._comprehension(node, kind)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp, kind: str) -> Lowered:
        frame = self.ctx.frame
        saved = dict(frame.bindings)
        try:
            gens: list[CompFor] = []
            for gen in node.generators:
                if gen.is_async:
                    raise self.ctx.error(node, "async comprehensions are not supported")
                it, ik = self.lower(gen.iter)
                elem = K.element(ik)
                if elem is None:
                    raise self.ctx.error(gen.iter, "a state cannot be iterated", "iterate over forks = s.fork(n)")
                pattern = self._bind_comp_target(gen.target, elem)
                ifs = [self.lower(c) for c in gen.ifs]
                gens.append(CompFor(pattern, it, tuple(e for e, _ in ifs)))
            if isinstance(node, ast.DictComp):
                key, kk = self.lower(node.key)
                value, vk = self.lower(node.value)
                self.no_state(node.value, vk, "a dict value")
                return Comp("dict", value, tuple(gens), key), K.join(kk, vk)
            elt, ek = self.lower(node.elt)
            return Comp(kind, elt, tuple(gens)), K.list_of(ek) if K.has_state(ek) else K.join(ek)
        finally:
            frame.bindings = saved

    def _bind_comp_target(self, target: ast.expr, kind: Kind) -> Any:
        """Comprehension variables are scoped to the comprehension, so they keep their names."""
        if isinstance(target, ast.Name):
            self.ctx.frame.bindings[target.id] = Binding(target.id, kind)
            return target.id
        if isinstance(target, (ast.Tuple, ast.List)):
            parts = K.unpack(kind, len(target.elts))
            if parts is None:
                raise self.ctx.error(target, f"cannot unpack a {kind} into {len(target.elts)} names")
            return tuple(self._bind_comp_target(t, k) for t, k in zip(target.elts, parts))
        raise self.ctx.error(target, "a comprehension target must be a name or a tuple of names")
