"""`xs.append(v)` and `xs.extend(vs)` as statements on a list the program built itself: the list
is rebound to a new one (`xs = xs + [v]`), which is the same thing when no other name holds it.
A list that another name, an input or a container may share is refused (the change would not
reach the other holder)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import Context, Item
from lmc.compiler.frontend.kinds import STATE
from lmc.plan.expr import BinOp, Call, Name, Seq
from lmc.plan.ir import Assign

if TYPE_CHECKING:
    from lmc.compiler.frontend.expressions import ExpressionLowerer

GROWERS = ("append", "extend")


def builds_list(value: ast.expr) -> bool:
    """A new list no other name holds: a display, a comprehension, a `+` of lists, `list(...)`."""
    if isinstance(value, (ast.List, ast.ListComp)):
        return True
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        return builds_list(value.left) or builds_list(value.right)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "sorted")


class ListLowerer:
    def __init__(self, ctx: Context, exprs: ExpressionLowerer) -> None:
        self.ctx = ctx
        self.exprs = exprs

    def grow(self, call: ast.Call) -> list[Item] | None:
        """The rebinding for `xs.append(v)` / `xs.extend(vs)`; None if `call` is neither."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in GROWERS and isinstance(func.value, ast.Name)):
            return None
        name = func.value.id
        binding = self.ctx.frame.bindings.get(name)
        if binding is None or binding.kind == STATE:
            return None
        if len(call.args) != 1 or call.keywords:
            raise self.ctx.error(call, f"`.{func.attr}(...)` takes one argument")
        if not binding.fresh:
            raise self.ctx.error(call, f"`{name}.{func.attr}(...)` changes a list that is not this program's own",
                                 f"build it here first ({name} = [] or [...]), or make a new one: "
                                 f"{name} = {name} + [item]")
        arg = call.args[0]
        value, kind = self.exprs.folded(arg)
        if func.attr == "append":
            grown = BinOp("+", Name(binding.ir), Seq("list", (value,)))
            new_kind = K.list_of(kind) if K.has_state(kind) else K.join(kind)
        else:
            elem = K.element(kind)
            if elem is None:
                raise self.ctx.error(arg, "a state is not a list", f"append one state with {name}.append(...)")
            grown = BinOp("+", Name(binding.ir), Call("list", (value,), ()))
            new_kind = K.list_of(elem) if K.has_state(elem) else K.join(kind)
        self.ctx.escape(arg)
        if not binding.empty and K.has_state(new_kind) != K.has_state(binding.kind):
            raise self.ctx.error(call, f"`{name}` holds a {binding.kind}; it cannot also hold states",
                                 "keep states in a list of their own")
        target = self.ctx.bind(name, new_kind, call, fresh=True)
        return [Item(Assign(target, grown, self.ctx.span(call)))]
