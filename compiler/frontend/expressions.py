"""Python expressions to plan expressions, with their kinds; unsupported forms are errors."""

from __future__ import annotations

import ast
from typing import Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import MISSING, Lowering
from lmc.compiler.frontend.globals import (
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
    Compare,
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
ALLOWED_HINT = ("allowed: len, range, str, int, float, bool, list, tuple, dict, zip, enumerate, "
                "sorted, reversed, min, max, sum, abs, round, any, all, json.dumps, json.loads, "
                "str/list/dict methods that return a new value, and other @lmc.program functions")
STATE_METHODS_HINT = "a state offers s += ..., s[name], s.json(name), forks = s.fork(n), s.join(forks)"


class ExprLowering(Lowering):
    def lower_expr(self, node: ast.expr) -> tuple[Expr, Kind]:
        handler = getattr(self, f"_expr_{type(node).__name__}", None)
        if handler is None:
            raise self._unsupported_expr(node)
        return handler(node)

    def folded(self, node: ast.expr) -> tuple[Expr, Kind]:
        """Lower, and fold to a constant when nothing in it depends on a row or a gen."""
        expr, kind = self.lower_expr(node)
        if isinstance(expr, Const) or free_names(expr) or var_reads(expr) or K.has_state(kind):
            return expr, kind
        try:
            return reduce(expr, Scope({})), kind
        except EvalError as exc:
            raise self.error(node, f"this expression fails for every row: {exc}") from None

    def _unsupported_expr(self, node: ast.expr) -> Exception:
        messages = {
            "Lambda": ("a lambda cannot be analysed (it could capture the state)",
                       "use a comprehension, or an @lmc.program for steps that touch the state"),
            "NamedExpr": ("`:=` is not supported inside programs", "assign on its own line"),
            "Yield": ("an lmc program cannot `yield`", "append to the state; outputs are its variables"),
            "YieldFrom": ("an lmc program cannot `yield from`", "call the other @lmc.program as other(s, ...)"),
            "Await": ("`await` cannot run inside a program", "programs are compiled; the executor runs rows concurrently"),
            "Starred": ("`*` unpacking is not supported here", "index the sequence or pass it whole"),
            "Set": ("sets are not supported (they are not JSON data)", "use a list"),
            "SetComp": ("set comprehensions are not supported", "use a list comprehension"),
        }
        message, hint = messages.get(type(node).__name__, (f"{type(node).__name__} expressions are not supported", ""))
        return self.error(node, message, hint)

    # -- names and constants -------------------------------------------------------------------
    def _expr_Constant(self, node: ast.Constant) -> tuple[Expr, Kind]:
        ok, value = json_constant(node.value)
        if not ok:
            raise self.error(node, f"the constant {node.value!r} is not JSON data", "use str, numbers, bool or None")
        return Const(value), PARAM

    def _expr_Name(self, node: ast.Name) -> tuple[Expr, Kind]:
        binding = self.frame.bindings.get(node.id)
        if binding is not None:
            return Name(binding.ir), binding.kind
        if node.id in self.frame.local_names:
            raise self.error(node, f"`{node.id}` is read before it is assigned", "assign it before this line")
        obj = self.frame.resolve_global(node.id)
        if obj is MISSING:
            raise self.error(node, f"name `{node.id}` is not defined")
        ok, value = json_constant(obj)
        if ok:
            return Const(value), PARAM
        raise self._not_a_value(node, node.id, obj)

    def _not_a_value(self, node: ast.AST, label: str, obj: Any) -> Exception:
        if isinstance(obj, Program) or primitive_name(obj) or builtin_name(obj) or is_module(obj):
            return self.error(node, f"`{label}` can only be called here, not used as a value")
        return self.error(
            node, f"`{label}` is {describe(obj)}, which a program cannot use",
            "programs read constants (str, numbers, bool, None, lists and dicts of them) and their "
            "inputs; pass anything else in as an input",
        )

    def static_object(self, node: ast.expr) -> Any:
        """The Python object a global name or module attribute chain denotes, or MISSING."""
        if isinstance(node, ast.Name):
            if node.id in self.frame.bindings or node.id in self.frame.local_names:
                return MISSING
            return self.frame.resolve_global(node.id)
        if isinstance(node, ast.Attribute):
            base = self.static_object(node.value)
            if base is not MISSING and is_module(base):
                if not hasattr(base, node.attr):
                    raise self.error(node, f"the module `{ast.unparse(node.value)}` ({base.__name__}) has no `{node.attr}`",
                                     "lmc offers gen, gen_int, gen_string, select, system, user, assistant"
                                     if base.__name__ == "lmc" else "")
                return getattr(base, node.attr)
        return MISSING

    def _expr_Attribute(self, node: ast.Attribute) -> tuple[Expr, Kind]:
        obj = self.static_object(node)
        if obj is not MISSING:
            ok, value = json_constant(obj)
            if ok:
                return Const(value), PARAM
            raise self._not_a_value(node, ast.unparse(node), obj)
        _, kind = self.lower_expr(node.value)
        if kind == STATE:
            raise self.error(node, f"a state has no attribute `{node.attr}`", STATE_METHODS_HINT)
        raise self.error(node, "attribute access is not supported inside programs",
                         "pass the value as an input, or call an allowed method")

    # -- text and operators --------------------------------------------------------------------
    def _expr_JoinedStr(self, node: ast.JoinedStr) -> tuple[Expr, Kind]:
        parts: list[Expr] = []
        kinds: list[Kind] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(Const(value.value))
                continue
            assert isinstance(value, ast.FormattedValue)
            inner, kind = self.lower_expr(value.value)
            if K.has_state(kind):
                raise self.error(value.value, "a state cannot be formatted into text",
                                 "read a variable with s['name']")
            spec = None
            if value.format_spec is not None:
                spec, spec_kind = self.lower_expr(value.format_spec)
                kinds.append(spec_kind)
            conversion = {-1: "", 115: "s", 114: "r", 97: "a"}[value.conversion]
            parts.append(Format(inner, conversion, spec))
            kinds.append(kind)
        return FString(tuple(parts)), K.join(*kinds)

    def _no_state(self, node: ast.expr, kind: Kind, what: str) -> None:
        if K.has_state(kind):
            raise self.error(node, f"a state cannot be used in {what}",
                             "append to it with s += ..., read its variables with s['name']")

    def _expr_BinOp(self, node: ast.BinOp) -> tuple[Expr, Kind]:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise self.error(node, f"the operator {type(node.op).__name__} is not supported", "use + - * / // %")
        left, lk = self.lower_expr(node.left)
        right, rk = self.lower_expr(node.right)
        if op == "+" and lk.tag == rk.tag == "list" and K.has_state(lk) and K.has_state(rk):
            merged = K.merge(lk, rk)
            if merged is not None:
                return BinOp(op, left, right), merged  # forks_a + forks_b: one list of branches
        self._no_state(node.left, lk, "arithmetic (write `s += ...` to append)")
        self._no_state(node.right, rk, "arithmetic (write `s += ...` to append)")
        return BinOp(op, left, right), K.join(lk, rk)

    def _expr_UnaryOp(self, node: ast.UnaryOp) -> tuple[Expr, Kind]:
        op = UNARY.get(type(node.op))
        if op is None:
            raise self.error(node, "the operator ~ is not supported")
        operand, kind = self.lower_expr(node.operand)
        self._no_state(node.operand, kind, "an operator")
        return UnaryOp(op, operand), kind if op != "not" else K.join(kind)

    def _expr_BoolOp(self, node: ast.BoolOp) -> tuple[Expr, Kind]:
        values = [self.lower_expr(v) for v in node.values]
        for v, (_, kind) in zip(node.values, values):
            self._no_state(v, kind, "a condition")
        op = "and" if isinstance(node.op, ast.And) else "or"
        return BoolOp(op, tuple(e for e, _ in values)), K.join(*(k for _, k in values))

    def _expr_Compare(self, node: ast.Compare) -> tuple[Expr, Kind]:
        left, lk = self.lower_expr(node.left)
        comps = [self.lower_expr(c) for c in node.comparators]
        for sub, kind in [(node.left, lk), *((c, k) for c, (_, k) in zip(node.comparators, comps))]:
            self._no_state(sub, kind, "a comparison")
        ops = tuple(CMPOPS[type(o)] for o in node.ops)
        return Compare(left, ops, tuple(e for e, _ in comps)), K.join(lk, *(k for _, k in comps))

    def _expr_IfExp(self, node: ast.IfExp) -> tuple[Expr, Kind]:
        test, tk = self.lower_expr(node.test)
        body, bk = self.lower_expr(node.body)
        orelse, ok = self.lower_expr(node.orelse)
        for sub, kind in ((node.test, tk), (node.body, bk), (node.orelse, ok)):
            self._no_state(sub, kind, "a conditional expression")
        return IfExp(test, body, orelse), K.join(tk, bk, ok)

    # -- containers ----------------------------------------------------------------------------
    def _elements(self, elts: list[ast.expr]) -> tuple[list[Expr], list[Kind]]:
        exprs, kinds = [], []
        for elt in elts:
            if isinstance(elt, ast.Starred):
                raise self._unsupported_expr(elt)
            expr, kind = self.lower_expr(elt)
            if K.has_state(kind):
                raise self.error(elt, "a state cannot be stored in a container",
                                 "keep states in plain variables; for several, use forks = s.fork(n)")
            exprs.append(expr)
            kinds.append(kind)
        return exprs, kinds

    def _expr_List(self, node: ast.List) -> tuple[Expr, Kind]:
        exprs, kinds = self._elements(node.elts)
        return Seq("list", tuple(exprs)), K.join(*kinds)

    def _expr_Tuple(self, node: ast.Tuple) -> tuple[Expr, Kind]:
        exprs, kinds = self._elements(node.elts)
        return Seq("tuple", tuple(exprs)), K.tuple_of(*kinds)

    def _expr_Dict(self, node: ast.Dict) -> tuple[Expr, Kind]:
        if any(k is None for k in node.keys):
            raise self.error(node, "`**` unpacking in a dict is not supported", "write the keys out")
        keys, kk = self._elements([k for k in node.keys if k is not None])
        values, vk = self._elements(node.values)
        return DictOf(tuple(keys), tuple(values)), K.join(*kk, *vk)

    def _expr_Subscript(self, node: ast.Subscript) -> tuple[Expr, Kind]:
        value, vk = self.lower_expr(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [self.lower_expr(p) if p is not None else (None, PARAM)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            index: Expr = Slice(*(e for e, _ in parts))
            ik = K.join(*(k for _, k in parts))
        else:
            index, ik = self.lower_expr(node.slice)
        if K.has_state(ik):
            raise self.error(node.slice, "a state cannot be used as an index")
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
                raise self.error(node, "index a tuple holding states with a constant")
        return Subscript(value, index), K.join(vk, ik)

    def var_read(self, node: ast.expr, state: Expr, name: Expr, name_kind: Kind, as_json: bool) -> tuple[Expr, Kind]:
        """`s[name]` / `s.json(name)`: a generated value; its name must be known before the run."""
        if K.is_gen(name_kind):
            raise self.error(node, "a variable name cannot depend on generated text",
                             "use a name known before the run: a literal or an f-string over inputs")
        literal = const_name(name)
        if literal is None:
            if not isinstance(name, (Name, FString, BinOp, Subscript, Call, Method)):
                raise self.error(node, "a variable name must be a str")
        else:
            self.note_read(literal, node)
        return Var(state, name, as_json), K.gen(name_pattern(name))

    def note_read(self, name: str, node: ast.AST) -> None:
        session = self.session
        if name in session.generated or any(name in names for names in session.loop_names):
            return
        loc = self.frame.source.location(node)
        session.pending_reads[(name, str(loc))] = (name, loc)
