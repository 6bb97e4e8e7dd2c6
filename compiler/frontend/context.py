"""The lowering's shared state, in one object every part holds: the frame being lowered (its
scope and renaming), what the whole compilation has seen (sources, generated names, reads to
check, the inlining stack), and the questions all parts ask of a name (what does it denote,
where is it, bind it here)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lmc.compiler.frontend import kinds as K
from lmc.compiler.frontend.globals import is_module, primitive_name
from lmc.compiler.frontend.kinds import Kind
from lmc.compiler.frontend.source import SourceCache, SourceFile
from lmc.plan.errors import CompileError, Location
from lmc.plan.expr import Pattern
from lmc.plan.ir import Node, Source, Span
from lmc.plan.language import PRIMITIVES
from lmc.plan.program import Program

T = TypeVar("T")


@dataclass
class Item:
    """A node with its arms, before the graph is built (the frontend's tree)."""

    node: Node
    arms: dict[str, list[Item]] = field(default_factory=dict)


@dataclass
class Binding:
    ir: str  # the name in the plan (locals of inlined programs are renamed `callee#k.x`)
    kind: Kind
    fresh: bool = False  # a list this frame built and no other name holds: .append may rebind it
    empty: bool = False  # fresh and still `[]`: any list kind fits it


@dataclass
class Frame:
    """One function being lowered: the top program, or one inlined call of another program."""

    program: Program
    source: SourceFile
    source_index: int
    prefix: str
    local_names: set[str]
    bindings: dict[str, Binding] = field(default_factory=dict)
    imported: dict[str, Any] = field(default_factory=dict)  # constants a `from lmc... import` in the body names
    branching: int = 0  # how many loops and if-arms enclose the statement being lowered

    def resolve_global(self, name: str) -> Any:
        if name in self.imported:
            return self.imported[name]
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
class Context:
    """What every part of one compilation shares; `frame` is swapped while a call is inlined."""

    frame: Frame
    sources: SourceCache
    files: list[Source] = field(default_factory=list)
    stack: list[Program] = field(default_factory=list)
    inline_counts: dict[str, int] = field(default_factory=dict)
    generated: dict[str, Location] = field(default_factory=dict)  # constant gen names -> site
    computed_names: bool = False  # some gen's name is computed (f-string): reads can't be checked
    loop_names: list[set[str]] = field(default_factory=list)
    pending_reads: dict[tuple[str, str], tuple[str, Location]] = field(default_factory=dict)
    calls: list[Item] = field(default_factory=list)  # host calls of the statement being lowered
    call_count: int = 0
    deferred: str | None = None  # where a call would not run when Python runs it ("inside a comprehension")

    @classmethod
    def for_program(cls, program: Program) -> tuple[Context, ast.FunctionDef]:
        """A context whose frame is `program`'s body (nothing bound yet), and its `def`."""
        sources = SourceCache()
        source, fdef = sources.function(program.fn)
        ctx = cls(Frame(program, source, 0, "", local_names(fdef)), sources)
        ctx.frame.source_index = ctx.source_index(source)
        ctx.stack.append(program)
        return ctx, fdef

    def source_index(self, source: SourceFile) -> int:
        for i, s in enumerate(self.files):
            if s.path == source.path:
                return i
        self.files.append(Source(source.path, source.sha256))
        return len(self.files) - 1

    def collect_calls(self, lower: Callable[[], T]) -> tuple[list[Item], T]:
        """What `lower` (one statement, or one returned value) gives, and the host calls it met,
        which must run before it (host_calls.py)."""
        outer = self.calls, self.deferred
        self.calls, self.deferred = [], None
        try:
            result = lower()
            return self.calls, result
        finally:
            self.calls, self.deferred = outer

    def with_calls(self, lower: Callable[[], list[Item]]) -> list[Item]:
        """The items of one statement, preceded by the host calls it makes."""
        calls, items = self.collect_calls(lower)
        return [*calls, *items]

    @contextmanager
    def branching(self) -> Iterator[None]:
        """Inside a loop body or an if-arm: a local rebound here may still hold its old value."""
        self.frame.branching += 1
        try:
            yield
        finally:
            self.frame.branching -= 1

    @contextmanager
    def deferring(self, where: str) -> Iterator[None]:
        """Inside `where`, Python runs an expression only sometimes or once per item."""
        outer, self.deferred = self.deferred, self.deferred or where
        try:
            yield
        finally:
            self.deferred = outer

    # -- locations -----------------------------------------------------------------------------
    def error(self, node: ast.AST, message: str, hint: str = "") -> CompileError:
        return CompileError(message, self.frame.source.location(node), hint)

    def span(self, node: ast.AST) -> Span:
        return Span(
            self.frame.source_index, node.lineno, node.col_offset,  # type: ignore[attr-defined]
            node.end_lineno or node.lineno, node.end_col_offset or 0,  # type: ignore[attr-defined]
        )

    # -- what a name denotes -------------------------------------------------------------------
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
                                     "lmc's primitives are " + ", ".join(PRIMITIVES.values())
                                     if base.__name__ == "lmc" else "")
                return getattr(base, node.attr)
        return MISSING

    def primitive_of(self, node: ast.expr) -> str | None:
        """`gen`, `select`, a role... if `node` calls that lmc primitive."""
        if isinstance(node, ast.Call):
            target = self.static_object(node.func)
            if target is not MISSING:
                return primitive_name(target)
        return None

    def find_primitive(self, node: ast.expr) -> ast.Call | None:
        """The first primitive call anywhere inside `node` (for 'only with +' errors)."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and self.primitive_of(sub):
                return sub
        return None

    # -- binding locals ------------------------------------------------------------------------
    def bind(self, name: str, kind: Kind, node: ast.AST, fresh: bool = False, empty: bool = False) -> str:
        """Bind a local of the current frame (renamed by its prefix); a rebinding merges kinds
        (an empty list fits any list kind), or in straight-line code takes the new kind (a name
        holding a state stays a state: `s = "text"` would lose the program's prompt)."""
        binding = self.frame.bindings.get(name)
        if binding is None:
            binding = Binding(self.frame.prefix + name, kind, fresh, empty)
            self.frame.bindings[name] = binding
            return binding.ir
        if binding.empty and kind.tag == "list":
            merged: Kind | None = kind
        elif empty and binding.kind.tag == "list":
            merged = binding.kind
        else:
            merged = K.merge(binding.kind, kind)
        if merged is None and not self.frame.branching and K.STATE not in (binding.kind, kind):
            merged = kind  # straight-line code: the new value is the only one the name can hold
        if merged is None:
            raise self.error(node, f"`{name}` holds a {binding.kind} and cannot be rebound to a {kind}",
                             "use a different name for the new value")
        binding.kind, binding.fresh, binding.empty = merged, fresh, empty
        return binding.ir

    def escape(self, value: ast.expr) -> None:
        """Names whose list `value` may now share with another holder lose `fresh`."""
        if isinstance(value, ast.Name) and value.id in self.frame.bindings:
            self.frame.bindings[value.id].fresh = self.frame.bindings[value.id].empty = False
        elif isinstance(value, (ast.List, ast.Tuple, ast.Set)):
            for elt in value.elts:
                self.escape(elt)
        elif isinstance(value, ast.Dict):
            for item in value.values:
                self.escape(item)
        elif isinstance(value, ast.IfExp):
            self.escape(value.body)
            self.escape(value.orelse)
        elif isinstance(value, ast.BoolOp):
            for item in value.values:
                self.escape(item)

    def bind_target(self, target: ast.expr, kind: Kind) -> Pattern:
        if isinstance(target, ast.Name):
            return self.bind(target.id, kind, target)
        if isinstance(target, (ast.Tuple, ast.List)):
            parts = K.unpack(kind, len(target.elts))
            if parts is None:
                raise self.error(target, f"cannot unpack a {kind} into {len(target.elts)} names")
            return tuple(self.bind_target(t, k) for t, k in zip(target.elts, parts))
        raise self.error(target, "this assignment target is not supported", "assign to a name")

    def note_read(self, name: str, node: ast.AST) -> None:
        """Remember `s[name]` until the end, unless a gen already (or in this loop) stores it."""
        if name in self.generated or any(name in names for names in self.loop_names):
            return
        loc = self.frame.source.location(node)
        self.pending_reads[(name, str(loc))] = (name, loc)


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
