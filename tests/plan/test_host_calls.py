"""Host-call nodes in the plan layer: the ops they become, when their arguments are known, how
their results flow into text and gen arguments, and the plan file that holds them."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lmc.plan.cache_model import predict
from lmc.plan.errors import RowError
from lmc.plan.expr import BinOp, Const, Global, Name, Var, unparse
from lmc.plan.file import PLAN_VERSION, SCHEMA_PATH, Plan
from lmc.plan.instantiate import CallOp, GenOp, Instantiator, TextOp
from lmc.plan.ir import ENTRY, Entry, Gen, Graph, HostCall, Node, Param, Source, Text

S = Name("s")


def graph_of(*nodes: Node, params: tuple[str, ...] = ("question",)) -> Graph:
    """A flat program `def p(s, <params>): <nodes>` as a graph (ids n1... in order)."""
    graph = Graph(sources=[Source("/nowhere/prog.py", "0" * 64)])
    graph.g.add_node(ENTRY, node=Entry("p", "s", tuple(Param(p) for p in params)))
    ids = []
    for node in nodes:
        ids.append(graph.add(node))
    graph.set_block(ENTRY, "body", ids)
    graph.link_data()
    return graph


def render(question: str) -> str:
    return f"Q: {question}\nA:"


RENDER = f"{__name__}:render"


def test_a_call_on_inputs_is_ready_at_row_start_and_its_result_is_text():
    graph = graph_of(HostCall("prompt", RENDER, None, (Name("question"),)), Text(S, Name("prompt")),
                     Gen(S, Const("answer"), (("max_tokens", Const(4)),)))
    row = Instantiator(graph).row({"question": "why?"}, "r1")
    ops = row.start()
    call = ops[0]
    assert isinstance(call, CallOp) and call.function == RENDER and call.deps == ()
    assert call.args == (Const("why?"),)
    text = next(op for op in ops if isinstance(op, TextOp))
    assert text.text is None and text.deps == (call.id,)  # waits for the call like for a gen
    assert not row.done and call in row.pending()
    args, kwargs = row.call_arguments(call, lambda g: pytest.fail("no globals here"))
    assert (args, kwargs) == (["why?"], {})
    row.record(call.id, render(*args))
    assert row.text(text) == "Q: why?\nA:"
    gen = next(op for op in ops if isinstance(op, GenOp))
    row.record(gen.id, " because")
    assert row.done and row.outputs() == {"answer": " because"}


def test_a_call_on_a_generated_value_waits_for_it_and_the_walk_goes_on():
    graph = graph_of(Gen(S, Const("expr"), (("max_tokens", Const(4)),)),
                     HostCall("result", "calc:evaluate", None, (Var(S, Const("expr")),)),
                     Text(S, BinOp("+", Const(" = "), Name("result"))),
                     Gen(S, Const("after"), (("max_tokens", Const(2)),)))
    row = Instantiator(graph).row({"question": "q"})
    ops = row.start()
    gen, call, text, after = ops
    assert isinstance(call, CallOp) and call.deps == (gen.id,)
    assert isinstance(after, GenOp)  # emitted already: only its prompt waits, not the walk
    with pytest.raises(RowError, match="arguments of calc:evaluate are not known yet"):
        row.call_arguments(call, lambda g: None)
    row.record(gen.id, "2*3")
    assert row.call_arguments(call, lambda g: None) == (["2*3"], {})
    row.record(call.id, 6)
    with pytest.raises(RowError, match="can only concatenate str"):
        row.text(text)  # the result is a Python value (6), so `" = " + result` fails as in Python


def test_a_gen_argument_from_a_call_suspends_the_walk_until_the_result_is_recorded():
    graph = graph_of(HostCall("pattern", "schemas:regex_for", None, (Global("schemas:Point", 0),),
                              (("strict", Const(True)),)),
                     Gen(S, Const("point"), (("regex", Name("pattern")),)))
    row = Instantiator(graph).row({"question": "q"})
    (call,) = row.start()
    assert call.kwargs == (("strict", Const(True)),) and row.waiting_for == {call.id}
    seen = []
    args, kwargs = row.call_arguments(call, lambda g: seen.append(g) or "<the class>")
    assert args == ["<the class>"] and kwargs == {"strict": True} and seen == [Global("schemas:Point", 0)]
    (gen,) = row.record(call.id, r"\(\d+, \d+\)")
    assert isinstance(gen, GenOp) and gen.call.regex == r"\(\d+, \d+\)"


def test_a_tuple_target_unpacks_the_result():
    graph = graph_of(HostCall(("a", "b"), "m:pair", None, ()), Text(S, BinOp("+", Name("b"), Name("a"))))
    row = Instantiator(graph).row({"question": "q"})
    (call,) = row.start()
    (text,) = row.record(call.id, ["x", "y"])
    assert text.text == "yx"
    assert unparse(BinOp("+", Name("b"), Global("m:pair.first"))) == "(b + pair.first)"


def test_the_plan_file_holds_call_nodes_and_reads_them_back():
    graph = graph_of(HostCall("prompt", RENDER, 0, (Name("question"),), (("style", Global("m:Style", None)),)),
                     Text(S, Name("prompt")), HostCall(None, "tools:log", None, (Name("prompt"),)))
    plan = Plan(graph)
    data = json.loads(plan.dumps())
    assert data["version"] == PLAN_VERSION == 4  # 4 added s.text(), set_var and new_state (tests/plan/test_state_text.py)
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    call = next(n for n in data["nodes"] if n["kind"] == "call")
    assert call["function"] == RENDER and call["source"] == 0 and call["target"] == "prompt"
    assert data["stats"]["host_calls"] == 2
    again = Plan.loads(plan.dumps())
    assert again.graph.node("n1") == graph.node("n1") and again.dumps() == plan.dumps()
    assert plan.needs_sources


def test_a_version_2_plan_without_calls_still_loads():
    data = json.loads(Plan(graph_of(Text(S, Const("hi")))).dumps())
    data["version"] = 2
    assert Plan.from_json(data).graph.node("n1") == Text(S, Const("hi"))


def test_a_call_node_that_breaks_the_schema_is_refused():
    data = json.loads(Plan(graph_of(HostCall("x", RENDER, None, ()))).dumps())
    data["nodes"][1]["function"] = "no_colon"
    with pytest.raises(Exception, match="function"):
        Plan.from_json(data)


def test_the_cache_model_treats_a_call_result_as_unknown_text():
    """Calls never run at prediction: what waits on one is not predicted (as text computed from a
    generated value is not), and the requests before it are predicted as usual."""
    graph = graph_of(Text(S, Const("Instructions shared by every row. ")),
                     Gen(S, Const("first"), (("max_tokens", Const(2)),)),
                     HostCall("prompt", RENDER, None, (Name("question"),)), Text(S, Name("prompt")),
                     Gen(S, Const("answer"), (("max_tokens", Const(2)),)))
    rows = [{"question": f"q{i}"} for i in range(3)]
    prediction = predict(graph, rows)
    assert prediction.requests == 3  # each row's `first`; every `answer` waits on the call
    assert prediction.nodes.keys() == {"n2"}
