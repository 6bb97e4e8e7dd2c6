"""Walks the IR for one row and emits row ops; suspends where it needs a generated value.

The walk is a Python generator: when a condition or iterable (a dynamic region), a gen argument
or an unpacking needs values that are not generated yet, it yields the set of op ids it waits
for and resumes when `RowProgram.record` has them. Text that merely *contains* generated values
does not suspend: it is emitted as a residual TextOp the executor completes later.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmc.plan.errors import LanguageError
from lmc.plan.expr import MISSING, Const, EvalError, Expr, Pattern, Ref, Scope, reduce, walk
from lmc.plan.expr.scope import bind_pattern, iterate
from lmc.plan.instantiate.ops import (
    CallOp,
    ForkOp,
    GenOp,
    ImageOp,
    JoinOp,
    RoleOp,
    SelectOp,
    StateOp,
    TextOp,
    VarOp,
)
from lmc.plan.ir import (
    Assign,
    Branch,
    Break,
    Continue,
    Dynamic,
    Fork,
    Gen,
    HostCall,
    Image,
    Join,
    Loop,
    NewState,
    Node,
    Prefix,
    Return,
    RoleBegin,
    RoleEnd,
    Select,
    SetVar,
    Text,
)
from lmc.plan.language import SelectCall, as_select, gen, image, select, video

if TYPE_CHECKING:
    from lmc.plan.instantiate.row_program import RowProgram

Wait = Generator[frozenset[int], None, Any]
SGLANG_TEMPERATURE = 1.0  # SGLang's default for a gen that sets none (lmc's own default is greedy)


@dataclass(frozen=True)
class StateHandle:
    """A state as a runtime value (what `s`, `forks[i]` and loop targets evaluate to)."""

    id: int


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def refs(expr: Expr) -> frozenset[int]:
    return frozenset(e.op for e in walk(expr) if isinstance(e, Ref))


class Interpreter:
    def __init__(self, row: RowProgram, env: dict[str, Any]) -> None:
        self.row = row
        self.blocks = row.blocks
        self.env = env
        self.scope = Scope(env, self.read_var, row.read_ref, read_text=self.read_text)
        self.node_id = ""

    # -- values --------------------------------------------------------------------------------
    def read_var(self, state: Any, name: str, as_json: bool) -> Expr:
        if not isinstance(state, StateHandle):
            raise EvalError(f"{state!r} is not a state")
        op = self.row.variables[state.id].get(name)
        if op is None:
            known = ", ".join(sorted(self.row.variables[state.id])) or "none"
            raise EvalError(f"this state has no variable {name!r} yet (it has: {known})")
        value = self.row.read_ref(op, as_json)
        return Ref(op, as_json) if value is MISSING else Const(value)

    def read_text(self, state: Any) -> Expr:
        if not isinstance(state, StateHandle):
            raise EvalError(f"{state!r} is not a state, so it has no text()")
        return self.row.text_of(state.id)

    def value_of(self, expr: Expr) -> Wait:
        """Evaluate fully, suspending until the generated values it needs exist."""
        result = reduce(expr, self.scope)
        while not isinstance(result, Const):
            needed = refs(result)
            if not needed:
                raise EvalError("expression cannot be evaluated")
            yield needed
            result = reduce(result, self.scope)
        return result.value

    def state_of(self, expr: Expr) -> Wait:
        value = yield from self.value_of(expr)
        if not isinstance(value, StateHandle):
            raise EvalError(f"expected a state, got {value!r}")
        return value.id

    def bind(self, target: Pattern, value: Any) -> None:
        self.env.update(bind_pattern(target, value))

    # -- walk ----------------------------------------------------------------------------------
    def block(self, owner: str, arm: str) -> Wait:
        blocks = self.blocks
        for node_id in blocks.block(owner, arm):
            self.node_id = node_id
            yield from self.node(node_id, blocks.node(node_id))

    def node(self, node_id: str, node: Node) -> Wait:
        if isinstance(node, (Text, RoleBegin, RoleEnd)):
            yield from self.piece(node_id, node, None)
        elif isinstance(node, Prefix):
            for piece in node.pieces:
                yield from self.piece(node_id, piece, node_id)
        elif isinstance(node, Assign):
            yield from self.assign(node)
        elif isinstance(node, Gen):
            yield from self.gen(node_id, node)
        elif isinstance(node, Select):
            yield from self.select(node_id, node)
        elif isinstance(node, Image):
            state = yield from self.state_of(node.state)
            path = yield from self.value_of(node.path)
            frames = None if node.frames is None else (yield from self.value_of(node.frames))
            try:
                call = image(path) if node.frames is None else video(path, frames)
            except LanguageError as exc:
                raise EvalError(str(exc)) from None
            self.row.emit(ImageOp(self.row.next_id(), state, node_id, call.path, call.frames))
        elif isinstance(node, HostCall):
            yield from self.host_call(node_id, node)
        elif isinstance(node, SetVar):
            yield from self.set_var(node_id, node)
        elif isinstance(node, NewState):
            state = self.row.new_state(None)
            self.row.emit(StateOp(self.row.next_id(), state, node_id))
            self.bind(node.target, StateHandle(state))
        elif isinstance(node, Fork):
            yield from self.fork(node_id, node)
        elif isinstance(node, Join):
            yield from self.join(node_id, node)
        elif isinstance(node, (Loop, Dynamic)) and (isinstance(node, Loop) or node.construct == "for"):
            yield from self.loop(node_id, node.target, node.iter if isinstance(node, Loop) else node.test)
        elif isinstance(node, Dynamic) and node.construct == "while":
            yield from self.while_loop(node_id, node)
        elif isinstance(node, (Branch, Dynamic)):
            test = yield from self.value_of(node.test)
            yield from self.block(node_id, "then" if test else "else")
        elif isinstance(node, Break):
            raise _Break
        elif isinstance(node, Continue):
            raise _Continue
        elif isinstance(node, Return):
            self.row.returned = reduce(node.value, self.scope)

    def piece(self, node_id: str, node: Text | RoleBegin | RoleEnd, prefix: str | None) -> Wait:
        state = yield from self.state_of(node.state)
        row = self.row
        if isinstance(node, Text):
            value = reduce(node.value, self.scope)
            if isinstance(value, Const) and not isinstance(value.value, str):
                raise EvalError(f"appended text must be a str, got {type(value.value).__name__} "
                                f"{value.value!r}; wrap it in str(...)")
            if isinstance(value, Const):
                row.emit(TextOp(row.next_id(), state, node_id, value.value, prefix=prefix, prefetch=node.prefetch))
            else:
                row.emit(TextOp(row.next_id(), state, node_id, None, value, tuple(sorted(refs(value))),
                                prefix=prefix, prefetch=node.prefetch))
            return
        begin = isinstance(node, RoleBegin)
        if row.roles is None:
            row.emit(RoleOp(row.next_id(), state, node_id, node.role, begin, prefix))
            return
        try:
            text = row.roles.open(node.role, row.last_role[state]) if begin else row.roles.close(node.role)
        except ValueError as exc:
            raise EvalError(str(exc)) from None
        if not begin:
            row.last_role[state] = node.role
        row.emit(TextOp(row.next_id(), state, node_id, text, prefix=prefix, role=node.role))

    def assign(self, node: Assign) -> Wait:
        value = reduce(node.value, self.scope)
        if isinstance(node.target, str):
            self.env[node.target] = value.value if isinstance(value, Const) else value
            return
        concrete = yield from self.value_of(value)
        self.bind(node.target, concrete)

    def gen(self, node_id: str, node: Gen) -> Wait:
        state = yield from self.state_of(node.state)
        name = yield from self.value_of(node.name)
        args = {}
        for key, expr in node.args:
            args[key] = yield from self.value_of(expr)
        if "choices" in args:  # SGLang decides gen(choices=...) as a select
            try:
                picked = as_select(gen(name, **args), args.get("temperature"), args.get("choices_method"))
            except LanguageError as exc:
                raise EvalError(str(exc)) from None
            self._emit_select(node_id, state, picked, None)
            return
        args = {**self.row.gen_defaults, **args}
        if args.get("n", 1) != 1 and "temperature" not in args:
            args["temperature"] = SGLANG_TEMPERATURE  # n samples rely on SGLang's default temperature
        try:
            call = self.blocks.call(node_id, {"name": name, **args}, gen)
        except LanguageError as exc:
            raise EvalError(str(exc)) from None
        op = GenOp(self.row.next_id(), state, node_id, name, call, node.constraint)
        self.row.emit(op)
        self.row.variables[state][name] = op.id

    def select(self, node_id: str, node: Select) -> Wait:
        state = yield from self.state_of(node.state)
        name = yield from self.value_of(node.name)
        choices = yield from self.value_of(node.choices)
        args = {}
        for key, expr in node.args:
            args[key] = yield from self.value_of(expr)
        try:
            call = self.blocks.call(node_id, {"name": name, "choices": choices, **args}, select)
        except LanguageError as exc:
            raise EvalError(str(exc)) from None
        self._emit_select(node_id, state, call, node.choice_prefix)

    def _emit_select(self, node_id: str, state: int, call: SelectCall, choice_prefix: str | None) -> None:
        op = SelectOp(self.row.next_id(), state, node_id, call.name, call.choices, choice_prefix,
                      call.temperature, call.method)
        self.row.emit(op)
        self.row.variables[state][call.name] = op.id

    def join(self, node_id: str, node: Join) -> Wait:
        """A concatenating join's `state` may be the fork list itself (SGLang's `forks.join(...)`):
        it joins into the state the forks came from."""
        forks = yield from self.value_of(node.forks)
        children = tuple(f.id for f in forks if isinstance(f, StateHandle))
        concat = node.mode == "concate_and_append"
        if concat and node.state == node.forks:
            parents = {self.row.parent[c] for c in children}
            if len(parents) != 1 or None in parents:
                raise EvalError("join(mode=\"concate_and_append\") joins the forks of one state")
            state = parents.pop()
        else:
            state = yield from self.state_of(node.state)
        if concat and any(self.row.parent[c] != state for c in children):
            raise EvalError("join(mode=\"concate_and_append\") joins forks of the state they were forked from")
        self.row.emit(JoinOp(self.row.next_id(), state, node_id, children, concat))

    def set_var(self, node_id: str, node: SetVar) -> Wait:
        """The value stays residual until what it reads is recorded; the row then computes it."""
        state = yield from self.state_of(node.state)
        name = yield from self.value_of(node.name)
        if not isinstance(name, str):
            raise EvalError(f"a variable name must be a str, got {name!r}")
        value = reduce(node.value, self.scope)
        op = VarOp(self.row.next_id(), state, node_id, name, value, tuple(sorted(refs(value))))
        self.row.variables[state][name] = op.id
        self.row.emit(op)

    def host_call(self, node_id: str, node: HostCall) -> Wait:
        """Emit the call with its arguments as known now; the walk goes on without its result,
        which later expressions read as a `Ref` (they wait for it as they wait for a gen)."""
        args = tuple(reduce(a, self.scope) for a in node.positional)
        kwargs = tuple((k, reduce(v, self.scope)) for k, v in node.keywords)
        key = None if node.key is None else reduce(node.key, self.scope)
        exprs = (*args, *(v for _, v in kwargs), *(() if key is None else (key,)))
        deps = frozenset().union(*(refs(e) for e in exprs))
        op = CallOp(self.row.next_id(), node_id, node.function, node.source, args, kwargs, tuple(sorted(deps)),
                    node.table, key)
        self.row.emit(op)
        if isinstance(node.target, str):
            self.env[node.target] = Ref(op.id)
        elif node.target is not None:
            self.bind(node.target, (yield from self.value_of(Ref(op.id))))

    def fork(self, node_id: str, node: Fork) -> Wait:
        parent = yield from self.state_of(node.state)
        groups = []
        for size in node.sizes:
            n = yield from self.value_of(size)
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise EvalError(f"s.fork(n) needs an int n >= 1, got {n!r}")
            groups.append([self.row.new_state(parent) for _ in range(n)])
        children = tuple(c for g in groups for c in g)
        self.row.emit(ForkOp(self.row.next_id(), parent, node_id, children, node.group))
        for target, group in zip(node.targets, groups):
            self.bind(target, [StateHandle(c) for c in group])

    def loop(self, node_id: str, target: Pattern | None, iterable: Expr) -> Wait:
        items = yield from self.value_of(iterable)
        for item in iterate(items):
            assert target is not None
            self.bind(target, item)
            try:
                yield from self.block(node_id, "body")
            except _Continue:
                continue
            except _Break:
                break

    def while_loop(self, node_id: str, node: Dynamic) -> Wait:
        count = 0
        while (yield from self.value_of(node.test)):
            count += 1
            if count > self.row.max_loop_iterations:
                raise EvalError(f"the while loop ran more than {self.row.max_loop_iterations} times "
                                "(lmc run --max-loop-iterations, or CompileOptions.max_loop_iterations)")
            try:
                yield from self.block(node_id, "body")
            except _Continue:
                continue
            except _Break:
                break


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvalError(f"s.json(...) read a value that is not JSON: {exc}") from None
