"""The frontend: a program's source (via `ast`, never executed) to an IR graph.

A program called inside a program is inlined; control flow over inputs and constants stays
parametric (resolved per row at instantiation); control flow over generated values becomes a
Dynamic region; anything else is a CompileError that names file:line:col and says what to write.

The parts, composed (each holds the one `Context` of the compilation): `StatementLowerer` holds an
`ExpressionLowerer` (which holds a `CallLowerer`), an `AppendLowerer`, a `ForkLowerer`, a
`ListLowerer`, a `ControlLowerer` and an `Inliner`; the expression and statement lowerers
dispatch on the AST node's type through an explicit table.
"""

from __future__ import annotations

import ast

from lmc.compiler.frontend.context import Binding, Context, Item
from lmc.compiler.frontend.expressions import ExpressionLowerer
from lmc.compiler.frontend.globals import IO_HINT, io_message, io_name
from lmc.compiler.frontend.inlining import split_return
from lmc.compiler.frontend.kinds import PARAM, STATE
from lmc.compiler.frontend.statements import StatementLowerer
from lmc.plan.errors import CompileError
from lmc.plan.expr import Const
from lmc.plan.ir import ENTRY, Entry, Graph, Param, Return
from lmc.plan.program import Program


def lower_program(program: Program) -> Graph:
    """The unoptimized IR graph of `program` (passes come after)."""
    ctx, fdef = Context.for_program(program)
    _check_io(ctx, fdef)
    statements = StatementLowerer(ctx)
    state, params = _signature(ctx, statements.exprs, fdef)
    ctx.frame.bindings[state] = Binding(state, STATE)
    for p in params:
        ctx.frame.bindings[p.name] = Binding(p.name, PARAM)
    body, ret = split_return(ctx, fdef)
    items = statements.lower_block(body)
    if ret is not None and ret.value is not None:
        calls, (value, _) = ctx.collect_calls(lambda: statements.exprs.folded(ret.value))
        items += [*calls, Item(Return(value, ctx.span(ret)))]
    _check_reads(ctx)
    entry = Entry(program.name, state, tuple(params), ret is not None and ret.value is not None,
                  ctx.span(fdef))
    return build_graph(entry, items, ctx)


def _check_io(ctx: Context, fdef: ast.FunctionDef) -> None:
    """I/O written in the body (`print(...)`) is reported first, wherever it is: no other change
    to the program could make it compile, so it is the error worth naming."""
    for node in ast.walk(fdef):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id not in ctx.frame.local_names
                and (io := io_name(ctx.frame.resolve_global(node.func.id))) is not None):
            raise ctx.error(node, io_message(io), IO_HINT)


def _signature(ctx: Context, exprs: ExpressionLowerer, fdef: ast.FunctionDef) -> tuple[str, list[Param]]:
    args = fdef.args
    if args.kwarg:
        raise ctx.error(fdef, "a program cannot take **kwargs",
                        "name every input; each row of data.jsonl supplies them by name")
    positional = [*args.posonlyargs, *args.args]
    if not positional:
        raise ctx.error(fdef, "a program's first parameter is the state", f"write def {fdef.name}(s, ...):")
    defaults = dict(zip([a.arg for a in positional][len(positional) - len(args.defaults):], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    params = []
    for arg in [*positional[1:], args.vararg, *args.kwonlyargs]:
        if arg is None:
            continue
        if arg is args.vararg:  # `*context: str`: a list input, empty unless the row gives one
            item = arg.annotation
            params.append(Param(arg.arg, "list" if item is None else f"list[{ast.unparse(item)}]", [], False))
            continue
        default = None
        if arg.arg in defaults:
            value, _ = exprs.folded(defaults[arg.arg])
            if not isinstance(value, Const):
                raise ctx.error(defaults[arg.arg], "an input's default must be a constant")
            default = value.value
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
        params.append(Param(arg.arg, annotation, default, arg.arg not in defaults))
    return positional[0].arg, params


def _check_reads(ctx: Context) -> None:
    """`s["x"]` must read a name some gen/select stores; report the first that none does."""
    if ctx.computed_names:
        return
    for name, loc in ctx.pending_reads.values():
        site = ctx.generated.get(name)
        if site is not None:
            raise CompileError(f"`{name}` is read here before it is generated (at line {site.line})", loc,
                               "move this read after the gen/select that stores it")
        known = ", ".join(sorted(ctx.generated)) or "none"
        raise CompileError(f"no gen or select in this program stores `{name}`", loc,
                           f"names stored so far: {known}")


def build_graph(entry: Entry, items: list[Item], ctx: Context) -> Graph:
    """Give nodes ids in pre-order (n0 is the entry) and link blocks, arms and data edges."""
    graph = Graph(sources=list(ctx.files))
    graph.g.add_node(ENTRY, node=entry)
    counter = [0]

    def add_block(owner: str, arm: str, block: list[Item]) -> None:
        ids = []
        for item in block:
            counter[0] += 1
            node_id = f"n{counter[0]}"
            graph.g.add_node(node_id, node=item.node)
            ids.append(node_id)
            for sub_arm in item.node.arms:
                add_block(node_id, sub_arm, item.arms.get(sub_arm, []))
        graph.set_block(owner, arm, ids)

    add_block(ENTRY, "body", items)
    graph.link_data()
    return graph


__all__ = ["lower_program", "build_graph"]
