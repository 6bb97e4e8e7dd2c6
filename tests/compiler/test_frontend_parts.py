"""The frontend's parts on their own: the expression lowerer and the statement lowerer, each fed
a snippet in a context whose bindings the test sets (no whole program is lowered)."""

from __future__ import annotations

import ast
import textwrap

import pytest

import lmc
from lmc.compiler.frontend.context import Binding, Context, Item
from lmc.compiler.frontend.expressions import ExpressionLowerer
from lmc.compiler.frontend.kinds import PARAM, STATE, gen, list_of, tuple_of
from lmc.compiler.frontend.statements import StatementLowerer
from lmc.plan.errors import CompileError
from lmc.plan.expr import BinOp, Call, Const, FString, Name, Var
from lmc.plan.ir import Assign, Branch, Dynamic, Fork, Gen, Loop, RoleBegin, RoleEnd, Text

LABELS = ["good", "bad"]


@lmc.program
def scope(s, topic):
    """The frame the snippets are lowered in: its globals (lmc, LABELS) and its parameters."""


def context(prefix: str = "") -> Context:
    ctx, _ = Context.for_program(scope)
    ctx.frame.prefix = prefix
    ctx.frame.bindings.update(
        s=Binding("s", STATE), topic=Binding("topic", PARAM),
        forks=Binding("forks", list_of(STATE)), answer=Binding("answer", gen("a")),
    )
    return ctx


def expr(text: str, ctx: Context | None = None):
    return ExpressionLowerer(ctx or context()).lower(ast.parse(text, mode="eval").body)


def stmts(text: str, ctx: Context | None = None) -> list[Item]:
    return StatementLowerer(ctx or context()).lower_block(ast.parse(textwrap.dedent(text)).body)


# -- the expression lowerer -------------------------------------------------------------------
def test_expressions_over_inputs_are_parametric_and_globals_fold_to_constants():
    assert expr("topic + '!'") == (BinOp("+", Name("topic"), Const("!")), PARAM)
    assert expr("LABELS") == (Const(["good", "bad"]), PARAM)
    folded = ExpressionLowerer(context()).folded(ast.parse("len(LABELS) * 2", mode="eval").body)
    assert folded == (Const(4), PARAM)


def test_reading_a_state_variable_is_generated_and_remembered_until_checked():
    ctx = context()
    value, kind = expr("s['verdict']", ctx)
    assert value == Var(Name("s"), Const("verdict")) and kind == gen("verdict")
    assert [name for name, _ in ctx.pending_reads.values()] == ["verdict"]
    text, kind = expr("f'{answer} on {topic}'")
    assert isinstance(text, FString) and kind == gen("a")


def test_builtins_keep_the_kinds_of_states_in_containers():
    ctx = context()
    ctx.frame.bindings["dims"] = Binding("dims", PARAM)
    zipped, kind = expr("zip(forks, dims)", ctx)
    assert zipped == Call("zip", (Name("forks"), Name("dims")), ())
    assert kind == list_of(tuple_of(STATE, PARAM))
    assert expr("len(forks)")[1] == PARAM


@pytest.mark.parametrize(("text", "message"), [
    ("s + 'x'", "a state cannot be used in arithmetic"),
    ("lambda: 1", "a lambda cannot be analysed"),
    ("{1, 2}", "sets are not supported"),
    ("print('x')", "`print(...)` cannot run inside an lmc program"),
    ("lmc.gen('x')", "`lmc.gen(...)` must be appended to a state"),
    ("s.fork(2)", "s.fork(n) must be assigned to a name"),
    ("undefined_name", "name `undefined_name` is not defined"),
])
def test_expressions_a_program_cannot_hold_are_located_errors(text, message):
    with pytest.raises(CompileError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        expr(text)
    assert exc.value.location is not None and exc.value.location.line == 1


# -- the statement lowerer --------------------------------------------------------------------
def test_appends_split_into_text_and_gen_nodes_in_order():
    items = stmts("s += 'Q: ' + topic + lmc.gen('a', max_tokens=4)")
    nodes = [item.node for item in items]
    assert [type(n) for n in nodes] == [Text, Gen]
    assert nodes[0].value == BinOp("+", Const("Q: "), Name("topic"))
    assert nodes[1].name == Const("a") and dict(nodes[1].args) == {"max_tokens": Const(4)}


def test_assignments_are_renamed_by_the_frames_prefix():
    ctx = context(prefix="helper#1.")
    [item] = stmts("x = topic + '?'", ctx)
    assert item.node == Assign("helper#1.x", BinOp("+", Name("topic"), Const("?")), item.node.span)
    assert ctx.frame.bindings["x"] == Binding("helper#1.x", PARAM)


def test_control_flow_over_inputs_is_parametric_and_over_gens_dynamic():
    [loop] = stmts("for i in range(3):\n    s += str(i)")
    assert isinstance(loop.node, Loop) and [type(i.node) for i in loop.arms["body"]] == [Text]
    [branch] = stmts("if topic == 'x':\n    s += 'y'")
    assert isinstance(branch.node, Branch)
    [dynamic] = stmts("if answer == 'yes':\n    s += 'y'\nelse:\n    s += 'n'")
    assert isinstance(dynamic.node, Dynamic) and dynamic.node.deps == ("a",)
    assert [len(dynamic.arms[a]) for a in ("then", "else")] == [1, 1]


def test_fork_binds_a_list_of_states_and_roles_wrap_their_body():
    ctx = context()
    [fork] = stmts("branches = s.fork(2)", ctx)
    assert isinstance(fork.node, Fork) and fork.node.sizes == (Const(2),)
    assert ctx.frame.bindings["branches"].kind == list_of(STATE)
    items = stmts("with s.user():\n    s += 'hi'")
    assert [type(i.node) for i in items] == [RoleBegin, Text, RoleEnd]


@pytest.mark.parametrize(("text", "message"), [
    ("try:\n    pass\nexcept Exception:\n    pass", "try/except cannot wrap the steps of a program"),
    ("lmc.gen('x')", "on its own does nothing"),
    ("topic += s", "a state cannot be used in arithmetic"),
    ("LABELS[0] = 'x'", "this mutates the global `LABELS`"),
    ("return 1", "`return` is allowed only as the last statement"),
])
def test_statements_a_program_cannot_hold_are_located_errors(text, message):
    with pytest.raises(CompileError, match=message.replace("(", r"\(")):
        stmts(text)
