"""The lowering's bookkeeping: per-function frames (scopes, renaming) and the shared session."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmc.compiler.frontend.kinds import Kind
from lmc.compiler.frontend.source import SourceCache, SourceFile
from lmc.plan.errors import CompileError, Location
from lmc.plan.ir import Node, Source, Span

if TYPE_CHECKING:
    from lmc.plan.program import Program


@dataclass
class Item:
    """A node with its arms, before the graph is built (the frontend's tree)."""

    node: Node
    arms: dict[str, list[Item]] = field(default_factory=dict)


@dataclass
class Binding:
    ir: str  # the name in the plan (locals of inlined programs are renamed `callee#k.x`)
    kind: Kind


@dataclass
class Frame:
    """One function being lowered: the top program, or one inlined call of another program."""

    program: Program
    source: SourceFile
    source_index: int
    prefix: str
    local_names: set[str]
    bindings: dict[str, Binding] = field(default_factory=dict)

    def resolve_global(self, name: str) -> Any:
        fn = self.program.fn
        if name in fn.__code__.co_freevars and fn.__closure__ is not None:
            cell = fn.__closure__[fn.__code__.co_freevars.index(name)]
            try:
                return cell.cell_contents
            except ValueError:
                return MISSING
        if name in fn.__globals__:
            return fn.__globals__[name]
        builtins = fn.__globals__.get("__builtins__")
        table = builtins if isinstance(builtins, dict) else vars(builtins) if builtins else {}
        return table.get(name, MISSING)


MISSING: Any = object()


@dataclass
class Session:
    """State shared by every frame of one compilation."""

    sources: SourceCache = field(default_factory=SourceCache)
    files: list[Source] = field(default_factory=list)
    stack: list[Program] = field(default_factory=list)
    inline_counts: dict[str, int] = field(default_factory=dict)
    generated: dict[str, Location] = field(default_factory=dict)  # constant gen names -> site
    computed_names: bool = False  # some gen's name is computed (f-string): reads can't be checked
    loop_names: list[set[str]] = field(default_factory=list)
    pending_reads: dict[tuple[str, str], tuple[str, Location]] = field(default_factory=dict)

    def source_index(self, source: SourceFile) -> int:
        for i, s in enumerate(self.files):
            if s.path == source.path:
                return i
        self.files.append(Source(source.path, source.sha256))
        return len(self.files) - 1


def local_names(fdef: ast.FunctionDef) -> set[str]:
    """Names Python treats as local to the function: parameters and every assigned name."""
    names = {a.arg for a in (*fdef.args.posonlyargs, *fdef.args.args, *fdef.args.kwonlyargs)}
    stack: list[ast.AST] = list(fdef.body)
    scopes = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda,
              ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if isinstance(node, scopes):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return names


class Lowering:
    """Base of the lowering mixins: the current frame, errors with locations, spans."""

    def __init__(self, session: Session, frame: Frame) -> None:
        self.session = session
        self.frame = frame

    def error(self, node: ast.AST, message: str, hint: str = "") -> CompileError:
        return CompileError(message, self.frame.source.location(node), hint)

    def span(self, node: ast.AST) -> Span:
        return Span(
            self.frame.source_index, node.lineno, node.col_offset,  # type: ignore[attr-defined]
            node.end_lineno or node.lineno, node.end_col_offset or 0,  # type: ignore[attr-defined]
        )
