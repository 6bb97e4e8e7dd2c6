"""Host calls: a call to a plain Python function that does not receive the state (`render(q,
options)`, `calculate(s["expr"])`, `math.exp(x)`, `Model.model_json_schema()`) becomes a `call`
node (`lmc.plan.ir.HostCall`) placed before the statement that makes it; the statement reads the
result through a fresh local, as torch.fx's `call_function` nodes produce values.

The target is named by the path the program's own file reaches it by (`prog:render`,
`prog:math.exp`, `prog:Model.model_json_schema`, with the file as the node's `source`), so the
executor takes it from that file, whose sha256 the plan records; builtins are `builtins:name`.
An argument that is not data (a pydantic class given to a helper) is a `Global` named the same
way. A call through a module-level dict of functions (`TOOLS[action](arg)`, a ReAct tool table)
is one call node whose `table` names every function of the dict and whose `key` picks one per
row. A call where Python would run it only sometimes, or once per item (a conditional
expression, a comprehension), is an error: it would run once, before the statement.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.context import MISSING, Context, Item
from lmc.compiler.frontend.globals import ALLOWED_HINT, is_module, json_constant
from lmc.compiler.frontend.kinds import PARAM, Kind
from lmc.plan.expr import Const, Expr, Global, Name
from lmc.plan.ir import HostCall

if TYPE_CHECKING:
    from lmc.compiler.frontend.expressions import ExpressionLowerer, Lowered


def global_path(ctx: Context, node: ast.expr) -> str | None:
    """`render`, `math.exp`, `Model.model_json_schema`: a dotted chain whose root is a defined
    global (not a local) of the frame's program, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or ctx.static_object(node) is MISSING:
        return None
    return ".".join([node.id, *reversed(parts)])


class HostCalls:
    """Lowers host calls and the non-data globals passed to them."""

    def __init__(self, ctx: Context, exprs: ExpressionLowerer) -> None:
        self.ctx = ctx
        self.exprs = exprs

    def callee(self, func: ast.expr) -> str | None:
        """The path of `func` when calling it is a host call: a method of a global that is data
        (`SEPARATOR.join(xs)`, `CACHE.append(x)`) is a plan method or a mutation error instead."""
        path = global_path(self.ctx, func)
        if path is None or not isinstance(func, ast.Attribute):
            return path
        _, _, receiver = self.resolve(func.value, path.rsplit(".", 1)[0])
        return None if json_constant(receiver)[0] else path

    def resolve(self, node: ast.expr, path: str) -> tuple[str, int | None, Any]:
        """(`module:path`, source index or None, the object) for a global path."""
        frame = self.ctx.frame
        fn = frame.program.fn
        root, *rest = path.split(".")
        if root in fn.__code__.co_freevars:
            raise self.ctx.error(node, f"`{root}` comes from the enclosing function, so the plan cannot name it",
                                 "define it at module level, where the run finds it in the program's file")
        if root in fn.__globals__:
            obj, module, source = fn.__globals__[root], Path(frame.source.path).stem, frame.source_index
        else:
            obj, module, source = getattr(builtins, root), "builtins", None
        for i, part in enumerate(rest):
            if not hasattr(obj, part):
                raise self.ctx.error(node, f"`{'.'.join([root, *rest[:i]])}` has no attribute `{part}`")
            obj = getattr(obj, part)
        return f"{module}:{path}", source, obj

    def lower(self, node: ast.Call, path: str) -> Lowered:
        """The call as a `call` node before the current statement; its result as a local."""
        ctx = self.ctx
        function, source, obj = self.resolve(node.func, path)
        if not callable(obj) or is_module(obj):
            raise ctx.error(node.func, f"`{path}` is not a function", ALLOWED_HINT)
        result, kinds = self._emit(node, path, function, source)
        return result, self.result_kind(kinds)

    def _emit(self, node: ast.Call, path: str, function: str, source: int | None,
              table: tuple[tuple[str, str, int | None], ...] = (), key: Expr | None = None) -> tuple[Name, list[Kind]]:
        """Add the call node before the statement; its result local and its arguments' kinds."""
        ctx = self.ctx
        if ctx.deferred is not None:
            raise ctx.error(node, f"`{path}(...)` is called {ctx.deferred}, where it would run once, before the statement",
                            f"call it in a statement of its own (result = {path}(...)) inside an if or for")
        args = [self.argument(a) for a in node.args]
        keywords = [(kw.arg or "", *self.argument(kw.value)) for kw in node.keywords]
        kinds = [k for _, k in args] + [k for _, _, k in keywords]
        if any(K.has_state(k) for k in kinds):
            raise ctx.error(node, f"the state is passed to `{path}` inside an expression",
                            f"a function taking the state first is inlined as a statement: {path}(s, ...) "
                            f"on its own line, or x = {path}(s, ...)")
        ctx.call_count += 1
        result = f"{ctx.frame.prefix}call#{ctx.call_count}"
        ctx.calls.append(Item(HostCall(result, function, source, tuple(e for e, _ in args),
                                       tuple((k, e) for k, e, _ in keywords), ctx.span(node), table, key)))
        return Name(result), kinds

    def lower_table(self, node: ast.Call, func: ast.Subscript) -> Lowered:
        """`TOOLS[key](...)`: a call node naming each function of the module-level dict `TOOLS`
        (str keys), the target picked per row by the key's value."""
        ctx = self.ctx
        path = global_path(ctx, func.value)
        if path is None:
            raise ctx.error(func.value, "only a module-level dict of functions can be called through", ALLOWED_HINT)
        dict_name, source, table = self.resolve(func.value, path)
        if not table or not all(isinstance(k, str) and callable(f) for k, f in table.items()):
            raise ctx.error(func.value, f"`{path}` is called through, so it must map str keys to functions",
                            f"write {path} = {{\"name\": function, ...}} at module level")
        entries = tuple(sorted((k, *self.function_name(func.value, f)) for k, f in table.items()))
        key, key_kind = self.exprs.lower(func.slice)
        if K.has_state(key_kind):
            raise ctx.error(func.slice, f"the key into `{path}` is a state", "index the table with text: s[\"tool\"]")
        result, kinds = self._emit(node, path, dict_name, source, entries, key)
        return result, self.result_kind([*kinds, key_kind])

    def function_name(self, node: ast.expr, fn: Any) -> tuple[str, int | None]:
        """(`module:qualname`, source) of a function held in a table: the program's own file
        when it is defined there, else its module by name."""
        module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
        if not module or not qualname or "<" in qualname:
            raise self.ctx.error(node, f"{fn!r} in this table has no name the plan can use",
                                 "put module-level functions in the table (def name(...): ...)")
        if module == self.ctx.frame.program.fn.__module__:
            return f"{Path(self.ctx.frame.source.path).stem}:{qualname}", self.ctx.frame.source_index
        return f"{module}:{qualname}", None

    @staticmethod
    def result_kind(kinds: list[Kind]) -> Kind:
        """Known once a row's inputs are (it runs at row start), unless an argument is generated."""
        deps = [d for k in kinds if (d := K.gen_deps(k)) is not None]
        return K.gen(*frozenset().union(*deps)) if deps else PARAM

    def argument(self, node: ast.expr) -> tuple[Expr, Kind]:
        """A plan expression; a global that is not data (a class, a function) is a `Global`."""
        path = global_path(self.ctx, node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if path is None:
            return self.exprs.lower(node)
        function, source, obj = self.resolve(node, path)
        ok, value = json_constant(obj)
        return (Const(value) if ok else Global(function, source)), PARAM
