"""The plan layer's state text, SetVar and NewState, built node by node: what a row's ops and
values are, and the plan file (schema, round trip, the format version that added them)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lmc.plan.errors import RowError
from lmc.plan.expr import Call, Const, Name, Slice, StateText, Subscript, Var
from lmc.plan.file import PLAN_VERSION, SCHEMA_PATH, Plan
from lmc.plan.instantiate import GenOp, Instantiator, StateOp, TextOp, VarOp
from lmc.plan.ir import (
    ENTRY,
    Assign,
    Entry,
    Gen,
    Graph,
    NewState,
    Node,
    Param,
    RoleBegin,
    RoleEnd,
    SetVar,
    Source,
    Text,
)

S = Name("s")


def graph_of(*nodes: Node) -> Graph:
    graph = Graph(sources=[Source("/nowhere/prog.py", "0" * 64)])
    graph.g.add_node(ENTRY, node=Entry("p", "s", (Param("q"),)))
    graph.set_block(ENTRY, "body", [graph.add(n) for n in nodes])
    graph.link_data()
    return graph


def scoped(name: str, *body: Node) -> list[Node]:
    """What the frontend writes for `with s.var_scope(name): body`."""
    since = Subscript(StateText(S), Slice(Call("len", (Name("start"),))))
    return [Assign("start", StateText(S)), *body, SetVar(S, Const(name), since)]


PROGRAM = graph_of(
    Text(S, Name("q")),
    *scoped("v", Text(S, Const(" [")), Gen(S, Const("g"), (("max_tokens", Const(2)),)), Text(S, Const("]"))),
    NewState("other"),
    Text(Name("other"), Const("fresh ")),
    Text(Name("other"), Var(S, Const("v"))),
    Text(S, Const(" len=")),
    Text(S, Call("str", (Call("len", (StateText(Name("other")),)),))),
)


def test_a_var_settles_when_its_gen_is_recorded_and_reads_like_one():
    row = Instantiator(PROGRAM).row({"q": "Q:"}, 0)
    ops = row.start()
    (var,) = [op for op in ops if isinstance(op, VarOp)]
    (gen,) = [op for op in ops if isinstance(op, GenOp)]
    assert var.deps == (gen.id,) and var.id not in row.values and var in row.pending()
    with pytest.raises(ValueError, match="not a gen, select or call"):
        row.record(var.id, "x")  # the row computes it; nobody records it
    row.record(gen.id, "ok")
    assert row.values[var.id] == " [ok]" and row.done
    (new,) = [op.state for op in ops if isinstance(op, StateOp)]
    texts = {state: "".join(row.text(op) if isinstance(op, TextOp) else row.values[op.id] for op in row.history(state))
             for state in (0, new)}
    assert texts == {0: "Q: [ok] len=11", new: "fresh  [ok]"}  # its own prompt: 6 + 5 characters, none of s's
    assert row.base[new] == [] and row.parent[new] is None
    assert row.outputs() == {"g": "ok", "v": " [ok]"}


def test_text_of_a_state_with_unrendered_roles_fails_the_row_saying_why():
    graph = graph_of(RoleBegin(S, "user"), Text(S, Name("q")), RoleEnd(S, "user"), Text(S, StateText(S)))
    with pytest.raises(RowError, match="needs the model's role texts"):
        Instantiator(graph).row({"q": "hi"}, 0).start()
    row = Instantiator(graph, roles={"user": ("<u>", "</u>")}).row({"q": "hi"}, 0)
    row.start()
    assert row.text(row.ops[-1]) == "<u>hi</u>"


def test_the_plan_file_holds_them_and_reads_them_back():
    plan = Plan(PROGRAM)
    data = json.loads(plan.dumps())
    assert data["version"] == PLAN_VERSION == 4
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    kinds = {n["kind"] for n in data["nodes"]}
    assert {"set_var", "new_state"} <= kinds
    again = Plan.loads(plan.dumps())
    assert again.dumps() == plan.dumps()
    assert [again.graph.node(i) for i in again.graph.ids()] == [PROGRAM.node(i) for i in PROGRAM.ids()]


def test_a_version_3_plan_still_loads():
    data = json.loads(Plan(graph_of(Text(S, Const("hi")))).dumps())
    data["version"] = 3
    assert Plan.from_json(data).graph.node("n1") == Text(S, Const("hi"))
