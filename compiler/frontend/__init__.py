"""The frontend: a program's source (via `ast`, never executed) to an IR graph.

A program called inside a program is inlined; control flow over inputs and constants stays
parametric (resolved per row at instantiation); control flow over generated values becomes a
Dynamic region; anything else is a CompileError that names file:line:col and says what to write.
"""

from __future__ import annotations

import ast

from lmc.compiler.frontend.context import Binding, Frame, Item, Session, local_names
from lmc.compiler.frontend.inlining import ProgramLowering
from lmc.compiler.frontend.kinds import PARAM, STATE
from lmc.plan.errors import CompileError
from lmc.plan.expr import Const
from lmc.plan.ir import ENTRY, Entry, Graph, Param, Return
from lmc.plan.program import Program


def lower_program(program: Program) -> Graph:
    """The unoptimized IR graph of `program` (passes come after)."""
    session = Session()
    source, fdef = session.sources.function(program.fn)
    frame = Frame(program, source, session.source_index(source), "", local_names(fdef))
    lowering = ProgramLowering(session, frame)
    state, params = _signature(lowering, fdef)
    frame.bindings[state] = Binding(state, STATE)
    for p in params:
        frame.bindings[p.name] = Binding(p.name, PARAM)
    session.stack.append(program)
    body, ret = lowering.split_return(fdef)
    items = lowering.lower_block(body)
    if ret is not None and ret.value is not None:
        value, _ = lowering.folded(ret.value)
        items.append(Item(Return(value, lowering.span(ret))))
    _check_reads(session)
    entry = Entry(program.name, state, tuple(params), ret is not None and ret.value is not None,
                  lowering.span(fdef))
    return build_graph(entry, items, session)


def _signature(lowering: ProgramLowering, fdef: ast.FunctionDef) -> tuple[str, list[Param]]:
    args = fdef.args
    if args.vararg or args.kwarg:
        raise lowering.error(fdef, "a program cannot take *args or **kwargs",
                             "name every input; each row of data.jsonl supplies them by name")
    positional = [*args.posonlyargs, *args.args]
    if not positional:
        raise lowering.error(fdef, "a program's first parameter is the state", f"write def {fdef.name}(s, ...):")
    defaults = dict(zip([a.arg for a in positional][len(positional) - len(args.defaults):], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    params = []
    for arg in [*positional[1:], *args.kwonlyargs]:
        default = None
        if arg.arg in defaults:
            value, _ = lowering.folded(defaults[arg.arg])
            if not isinstance(value, Const):
                raise lowering.error(defaults[arg.arg], "an input's default must be a constant")
            default = value.value
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
        params.append(Param(arg.arg, annotation, default, arg.arg not in defaults))
    return positional[0].arg, params


def _check_reads(session: Session) -> None:
    """`s["x"]` must read a name some gen/select stores; report the first that none does."""
    if session.computed_names:
        return
    for name, loc in session.pending_reads.values():
        site = session.generated.get(name)
        if site is not None:
            raise CompileError(f"`{name}` is read here before it is generated (at line {site.line})", loc,
                               "move this read after the gen/select that stores it")
        known = ", ".join(sorted(session.generated)) or "none"
        raise CompileError(f"no gen or select in this program stores `{name}`", loc,
                           f"names stored so far: {known}")


def build_graph(entry: Entry, items: list[Item], session: Session) -> Graph:
    """Give nodes ids in pre-order (n0 is the entry) and link blocks, arms and data edges."""
    graph = Graph(sources=list(session.files))
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
