"""The frontend's analysis: what becomes parametric, what dynamic, how programs are inlined."""

from __future__ import annotations

from lmc.compiler.frontend import lower_program
from lmc.plan.expr import Const, Name
from lmc.plan.instantiate import GenOp, instantiate
from lmc.plan.ir import Assign, Branch, Dynamic, Gen, Loop, Prefix, Return


def kinds(graph) -> list[str]:
    return ["  " * depth + graph.node(i).kind + (f":{graph.node(i).construct}" if isinstance(graph.node(i), Dynamic) else "")
            for i, _, _, depth in graph.walk()]


def test_a_local_that_becomes_generated_later_in_a_loop_makes_it_dynamic(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s):
            x = "go"
            for i in range(3):
                if x == "stop":
                    break
                s += lmc.gen("g", max_tokens=2)
                x = s["g"]
        """
    ))
    assert kinds(graph) == ["assign", "dynamic:for", "  dynamic:if", "    break", "  gen", "  assign"]
    dynamic_if = next(n for _, n in graph.nodes_of(Dynamic) if n.construct == "if")
    assert dynamic_if.deps == ("g",)
    row = instantiate(graph, {})
    assert row.waiting_for == {0} and len(row.pending()) == 1  # iteration 2 waits on the gen
    new = row.record(row.pending()[0].id, "stop")
    assert new == [] and row.finished  # second iteration broke out


def test_control_flow_over_inputs_stays_parametric(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s, items: list, verbose: bool):
            for item in items:
                if verbose:
                    s += f"- {item}\\n"
            s += lmc.gen("summary", max_tokens=4)
        """
    ))
    assert kinds(graph) == ["loop", "  branch", "    text", "gen"]
    row = instantiate(graph, {"items": ["a", "b"], "verbose": True})
    assert "".join(op.text for op in row.ops if hasattr(op, "text")) == "- a\n- b\n"


def test_dynamic_for_and_while(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s):
            s += lmc.gen("plan", json_schema={"type": "array", "items": {"type": "string"}})
            for step in s.json("plan"):
                s += f"Do {step}: " + lmc.gen("done", max_tokens=3)
            while s["done"] != "ok":
                s += lmc.gen("done", max_tokens=3)
        """
    ))
    assert kinds(graph) == ["gen", "dynamic:for", "  text", "  gen", "dynamic:while", "  gen"]
    row = instantiate(graph, {})
    new = row.record(0, '["a", "b"]')  # the loop over the plan unrolls at once
    assert [op.text for op in new if hasattr(op, "text")] == ["Do a: ", "Do b: "]
    first, second = [op for op in new if isinstance(op, GenOp)]
    assert row.record(first.id, "ok") == []  # the while reads the latest `done`: the second
    more = row.record(second.id, "not yet")
    assert len(more) == 1 and not row.finished
    assert row.record(more[0].id, "ok") == [] and row.finished


def test_inlined_program_is_renamed_and_returns(programs):
    progs = programs(
        """
        from lmc import gen as G, user as U

        TONE = "politely"

        @lmc.program
        def ask(s, topic, style=TONE):
            prompt = f"Explain {topic} {style}."
            s += U(prompt) + G("answer", max_tokens=4)
            return {"asked": prompt}

        @lmc.program
        def main(s, topic: str):
            prompt = "kept"
            out = ask(s, topic)
            s += out["asked"] + prompt
        """
    )
    graph = lower_program(progs["main"])
    assigns = [n.target for _, n in graph.nodes_of(Assign)]
    assert assigns == ["prompt", "ask#1.s", "ask#1.topic", "ask#1.style", "ask#1.prompt", "out"]
    style = next(n for _, n in graph.nodes_of(Assign) if n.target == "ask#1.style")
    assert style.value == Const("politely")
    assert not graph.nodes_of(Return)
    row = instantiate(graph, {"topic": "tides"})
    texts = [op.text for op in row.ops if hasattr(op, "text") and op.text]
    assert texts == ["Explain tides politely.", "Explain tides politely.kept"]
    assert [op.name for op in row.ops if isinstance(op, GenOp)] == ["answer"]


def test_names_generated_in_a_loop_can_be_read_in_the_next_iteration(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s):
            for i in range(2):
                if i > 0:
                    s += "Before: " + s["answer"]
                s += lmc.gen("answer", max_tokens=2)
        """
    ))
    assert kinds(graph) == ["loop", "  branch", "    text", "  gen"]


def test_global_constants_are_folded_into_the_plan(program):
    graph = lower_program(program(
        """
        EXAMPLES = ({"q": "1+1", "a": "2"},)

        @lmc.program
        def p(s):
            for ex in EXAMPLES:
                s += ex["q"] + "=" + ex["a"]
        """
    ))
    loop = next(n for _, n in graph.nodes_of(Loop))
    assert loop.iter == Const([{"q": "1+1", "a": "2"}])
    assert not graph.nodes_of(Prefix, Branch, Gen)
    assert Name("ex") not in [loop.iter]
