"""`s += ...`: the right-hand side becomes prompt nodes (text, gens, selects, role markers).

A `+` chain that contains primitives is split into pieces in order; pure text stays one Text
node whose expression may read inputs and generated variables. Constant gen/select arguments
are validated here, through the same functions users call, so errors point at the call.
"""

from __future__ import annotations

import ast
import inspect
from typing import TYPE_CHECKING, Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.calls import check_call_shape
from lmc.compiler.frontend.context import Context, Item
from lmc.plan.choices import ChoicesMethod
from lmc.plan.errors import LanguageError
from lmc.plan.expr import Const, Expr
from lmc.plan.ir import Gen, Image, RoleBegin, RoleEnd, Select, Text, const_name
from lmc.plan.language import ROLES, gen, image, select, video
from lmc.plan.program import Program

if TYPE_CHECKING:
    from lmc.compiler.frontend.expressions import ExpressionLowerer

GEN_ARGS = tuple(inspect.signature(gen).parameters)
GEN_DTYPES = {"gen": None, "gen_int": "int", "gen_string": "str"}  # SGLang's typed gens
SELECT_ARGS = tuple(inspect.signature(select).parameters)


def unnamed(call: ast.Call) -> str:
    """The name of a gen/select written without one (SGLang allows it): unique per call site,
    so its value is still in the row's outputs and in `s.text()`."""
    return f"gen_{call.lineno}_{call.col_offset}"


class AppendLowerer:
    """`s += rhs` for one state: the nodes it appends, in order."""

    def __init__(self, ctx: Context, exprs: ExpressionLowerer) -> None:
        self.ctx = ctx
        self.exprs = exprs

    def lower(self, state: Expr, rhs: ast.expr, role: str | None = None) -> list[Item]:
        if isinstance(rhs, ast.BinOp) and isinstance(rhs.op, ast.Add) and self.ctx.find_primitive(rhs):
            return self.lower(state, rhs.left, role) + self.lower(state, rhs.right, role)
        primitive = self.ctx.primitive_of(rhs)
        if primitive is not None:
            assert isinstance(rhs, ast.Call)
            check_call_shape(self.ctx, rhs)
            if primitive in GEN_DTYPES:
                return [Item(self._gen(state, rhs, GEN_DTYPES[primitive]))]
            if primitive in ("image", "video"):
                return [Item(self._image(state, rhs, primitive == "video"))]
            if primitive == "select":
                return [Item(self._select(state, rhs))]
            if primitive in ROLES:
                return self._role(state, rhs, primitive, role)
            return [self._marker(state, rhs, primitive, role)]
        if isinstance(rhs, ast.Call) and isinstance(self.ctx.static_object(rhs.func), Program):
            raise self.ctx.error(rhs, "a program call cannot be appended",
                                 f"call it as a statement on the state: {ast.unparse(rhs.func)}(s, ...)")
        nested = self.ctx.find_primitive(rhs)
        if nested is not None:
            raise self.ctx.error(nested, f"`{ast.unparse(nested.func)}(...)` can only be combined with `+`",
                                 "write s += \"text\" + lmc.gen(...) (not inside an f-string or a call)")
        expr, kind = self.exprs.folded(rhs)
        if isinstance(expr, Const) and not isinstance(expr.value, str):
            raise self.ctx.error(rhs, f"only text can be appended, not {type(expr.value).__name__} {expr.value!r}",
                                 "wrap it: s += str(...)")
        if K.has_state(kind):
            raise self.ctx.error(rhs, "a state cannot be appended to a state",
                                 "append its variables instead: s += f[\"name\"]")
        return [Item(Text(state, expr, span=self.ctx.span(rhs)))]

    def _role(self, state: Expr, call: ast.Call, role: str, outer: str | None) -> list[Item]:
        if outer is not None:
            raise self.ctx.error(call, f"lmc.{role}(...) is inside lmc.{outer}(...); roles do not nest",
                                 "append each role separately: s += lmc.user(...); s += lmc.assistant(...)")
        if len(call.args) > 1 or call.keywords:
            raise self.ctx.error(call, f"lmc.{role}(...) takes one argument (text, gens, or a + of them)",
                                 f"or none: lmc.{role}() is an empty {role} turn")
        span = self.ctx.span(call)
        inner = self.lower(state, call.args[0], role) if call.args else []
        return [Item(RoleBegin(state, role, span)), *inner, Item(RoleEnd(state, role, span))]

    def _marker(self, state: Expr, call: ast.Call, primitive: str, outer: str | None) -> Item:
        """SGLang's `user_begin()` / `user_end()` (any role): one edge of a turn."""
        if outer is not None:
            raise self.ctx.error(call, f"lmc.{primitive}() is inside lmc.{outer}(...); roles do not nest",
                                 f"append it on its own: s += lmc.{primitive}()")
        if call.args or call.keywords:
            raise self.ctx.error(call, f"lmc.{primitive}() takes no arguments",
                                 f"append the turn's content between lmc.{primitive.split('_')[0]}_begin() and _end()")
        role, edge = primitive.split("_")
        node = RoleBegin if edge == "begin" else RoleEnd
        return Item(node(state, role, self.ctx.span(call)))

    def _bind_args(self, call: ast.Call, names: tuple[str, ...], what: str) -> dict[str, ast.expr]:
        if len(call.args) > len(names):
            raise self.ctx.error(call, f"{what} takes at most {len(names)} positional arguments")
        bound = dict(zip(names, call.args))
        for kw in call.keywords:
            assert kw.arg is not None
            if kw.arg not in names:
                raise self.ctx.error(kw.value, f"{what} has no argument `{kw.arg}`", f"its arguments are: {', '.join(names)}")
            if kw.arg in bound:
                raise self.ctx.error(kw.value, f"{what} got `{kw.arg}` twice")
            bound[kw.arg] = kw.value
        if "name" not in bound or (isinstance(bound["name"], ast.Constant) and bound["name"].value is None):
            bound["name"] = ast.Constant(unnamed(call))
        return bound

    def variable_name(self, node: ast.expr, what: str) -> Expr:
        """The name a gen, a select or a var_scope stores: known before the run, noted as generated."""
        expr, kind = self.exprs.folded(node)
        if K.is_gen(kind) or K.has_state(kind):
            raise self.ctx.error(node, f"the name of {what} must be known before the run",
                                 "use a literal or an f-string over inputs and loop variables")
        literal = const_name(expr)
        if literal is not None:
            self.ctx.generated.setdefault(literal, self.ctx.frame.source.location(node))
        else:
            self.ctx.computed_names = True
        return expr

    def _arg(self, key: str, node: ast.expr, what: str) -> Expr:
        if key == "dtype":
            target = self.ctx.static_object(node)
            if isinstance(target, type):
                return Const(target.__name__)  # int -> "int"; others fail validation by name
        if key == "choices_method":
            target = self.ctx.static_object(node)
            if isinstance(target, ChoicesMethod):
                return Const(target.name)  # lmc.greedy_token_selection -> "greedy_token_selection"
        expr, kind = self.exprs.folded(node)
        if K.is_gen(kind) or K.has_state(kind):
            raise self.ctx.error(node, f"`{key}=` of {what} cannot depend on generated text",
                                 "use constants or inputs for gen arguments")
        return expr

    def _validate(self, call: ast.Call, fn: Any, name: Expr, args: dict[str, Expr]) -> None:
        """Run the user-facing validator on every argument known now (the rest: per row)."""
        known = {k: v.value for k, v in args.items() if isinstance(v, Const)}
        try:
            fn(const_name(name) or "x", **known)
        except LanguageError as exc:
            raise self.ctx.error(call, str(exc)) from None

    def _gen(self, state: Expr, call: ast.Call, dtype: str | None) -> Gen:
        bound = self._bind_args(call, GEN_ARGS, "lmc.gen")
        name = self.variable_name(bound.pop("name"), "lmc.gen")
        args = {k: self._arg(k, v, "lmc.gen") for k, v in bound.items()}
        if dtype is not None:
            if "dtype" in args:
                raise self.ctx.error(call, f"{ast.unparse(call.func)}(...) sets dtype itself; drop dtype=")
            args["dtype"] = Const(dtype)
        self._validate(call, gen, name, args)
        if "choices" in args:  # SGLang decides gen(choices=...) as a select, not by constraint
            picked = {k: v for k, v in args.items() if k in ("temperature", "choices_method")}
            return Select(state, name, args["choices"], args=tuple(sorted(picked.items())), span=self.ctx.span(call))
        return Gen(state, name, tuple(sorted(args.items())), span=self.ctx.span(call))

    def _image(self, state: Expr, call: ast.Call, is_video: bool) -> Image:
        """`lmc.image(path)`, or `lmc.video(path, num_frames)`: one Image node."""
        what = "lmc.video" if is_video else "lmc.image"
        names = ("path", "num_frames") if is_video else ("path",)
        bound = dict(zip(names, call.args))
        bound.update({kw.arg: kw.value for kw in call.keywords if kw.arg in names})
        if len(call.args) > len(names) or len(bound) != len(names) or len(bound) != len(call.args) + len(call.keywords):
            raise self.ctx.error(call, f"{what}(...) takes {', '.join(names)}" if is_video
                                 else "lmc.image(...) takes one argument, the image's path")
        args = {k: self._arg(k, v, what) for k, v in bound.items()}
        if all(isinstance(v, Const) for v in args.values()):
            check = video if is_video else image
            self._validate(call, lambda _name, **kw: check(**kw), Const("x"), args)
        return Image(state, args["path"], span=self.ctx.span(call), frames=args.get("num_frames"))

    def _select(self, state: Expr, call: ast.Call) -> Select:
        bound = self._bind_args(call, SELECT_ARGS, "lmc.select")
        name = self.variable_name(bound.pop("name"), "lmc.select")
        if "choices" not in bound:
            raise self.ctx.error(call, "lmc.select needs choices=[...]")
        choices = self._arg("choices", bound.pop("choices"), "lmc.select")
        args = {k: self._arg(k, v, "lmc.select") for k, v in bound.items()}
        if isinstance(choices, Const):
            self._validate(call, select, name, {"choices": choices, **args})
        return Select(state, name, choices, args=tuple(sorted(args.items())), span=self.ctx.span(call))
