"""A state's text, var_scope and sub-programs called without a state, lowered and instantiated
on one row whose gens are recorded by hand; each expected value is what SGLang's interpreter
gives (`StreamExecutor.text_` is the concatenation of what the state was given, a var_scope
slices it by its length at the block's start, a program called without a state runs on a new
StreamExecutor)."""

from __future__ import annotations

import pytest

from lmc.compiler.frontend import lower_program
from lmc.lang.ir import REGEX_INT
from lmc.plan.expr import Const, StateText
from lmc.plan.instantiate import CallOp, GenOp, Instantiator, StateOp, TextOp, VarOp
from lmc.plan.ir import Assign, Gen, NewState, SetVar


def row_of(program, inputs=None, compiled: bool = False):
    graph = program.compile().graph if compiled else lower_program(program)
    row = Instantiator(graph).row(inputs or {}, "r")
    row.start()
    return row


def record(row, values: dict[str, str]) -> None:
    """Record each gen by name, in op order, until none of the named ones is pending."""
    while (op := next((o for o in row.ops if isinstance(o, GenOp) and o.id not in row.values
                       and o.name in values), None)) is not None:
        row.record(op.id, values[op.name])


def text(row, state: int = 0) -> str:
    """The state's prompt as the executor would spell it, every gen recorded."""
    return "".join(row.text(op) if isinstance(op, TextOp) else row.values[op.id] for op in row.history(state))


def test_text_of_the_state_is_a_value_in_later_text(program):
    row = row_of(program(
        """
        @lmc.function
        def p(s):
            s += "Q: " + lmc.gen("q", max_tokens=2)
            before = s.text()
            s += " | seen: " + before.upper()
        """
    ))
    waiting = [op for op in row.ops if isinstance(op, TextOp) and op.text is None]
    assert waiting  # it reads a gen not generated yet: it waits like text computed from one
    record(row, {"q": "why"})
    assert text(row) == "Q: why | seen: Q: WHY"


def test_text_without_gens_is_known_at_instantiation(program):
    row = row_of(program(
        """
        @lmc.function
        def p(s, name):
            s += "Hello " + name + ". "
            s += "Again: " + s.text()
        """
    ), {"name": "Ann"})
    assert all(op.text is not None for op in row.ops if isinstance(op, TextOp))
    assert text(row) == "Hello Ann. Again: Hello Ann. "


def test_texts_of_forks_in_a_comprehension_are_the_return_value(program):
    row = row_of(program(
        """
        @lmc.function
        def p(s):
            s += "Q."
            forks = s.fork(2)
            forks += " A:" + lmc.gen("a", max_tokens=2)
            lists = []
            lists.append(forks)
            lists = [[s.text() for s in fs] for fs in lists]
            return lists
        """
    ))
    a = [op for op in row.ops if isinstance(op, GenOp)]
    row.record(a[0].id, "x")
    row.record(a[1].id, "y")
    assert row.outputs()["ret_value"] == [["Q. A:x", "Q. A:y"]]  # each fork's text: the parent's, then its own
    assert row.outputs()["a"] == ["x", "y"]


def test_text_is_an_argument_of_a_host_call(program):
    row = row_of(program(
        """
        def count_words(text):
            return str(len(text.split()))

        @lmc.function
        def p(s):
            s += "one two " + lmc.gen("w", max_tokens=2)
            s += " -> " + count_words(s.text())
        """
    ))
    (call,) = [op for op in row.ops if isinstance(op, CallOp)]
    record(row, {"w": "three four"})
    args, _ = row.call_arguments(call, lambda g: None)
    assert args == ["one two three four"]


def test_passes_never_move_text_across_a_read_of_it(program):
    """The rows prefix would hoist "B" before `t = s.text()` (it moves constant text above the
    assignments between); with a read of the text in between, hoisting stops there."""
    prog = program(
        """
        @lmc.function
        def p(s):
            s += "A"
            t = s.text()
            s += "B"
            s += "[" + t + "]" + s.text()
        """
    )
    for compiled in (False, True):
        assert text(row_of(prog, compiled=compiled)) == "AB[A]AB"


def test_var_scope_holds_the_text_appended_in_its_block(program):
    prog = program(
        """
        def calculate(expression):
            return str(eval(expression))

        @lmc.function
        def p(s):
            s += "Give JSON.\\n"
            with s.var_scope("json_output"):
                s += "{\\"n\\": " + lmc.gen_int("n") + "}"
            s += "\\nexpr: " + lmc.gen("expression", stop=")") + " = "
            with s.var_scope("answer"):
                s += calculate(s["expression"])
            s += "\\nAgain: " + s["json_output"]
        """
    )
    graph = lower_program(prog)
    assert [n.name for _, n in graph.nodes_of(SetVar)] == [Const("json_output"), Const("answer")]
    starts = [n for _, n in graph.nodes_of(Assign) if isinstance(n.value, StateText)]
    assert len(starts) == 2  # the text's length is kept before each block
    row = row_of(prog)
    record(row, {"n": "42", "expression": "6*7"})
    (call,) = [op for op in row.ops if isinstance(op, CallOp)]
    row.record(call.id, "42")
    out = row.outputs()
    assert out["json_output"] == '{"n": 42}' and out["answer"] == "42"
    full = text(row)
    assert full == 'Give JSON.\n{"n": 42}\nexpr: 6*7 = 42\nAgain: {"n": 42}'
    assert all(v in full for v in (out["json_output"], out["answer"]))
    assert [op.name for op in row.ops if isinstance(op, VarOp)] == ["json_output", "answer"]


def test_var_scope_names_may_follow_a_loop(program):
    row = row_of(program(
        """
        @lmc.function
        def p(s):
            for i in range(2):
                with s.var_scope(f"item_{i}"):
                    s += f"<{i}>" + lmc.gen(f"g_{i}", max_tokens=1)
        """
    ))
    record(row, {"g_0": "a", "g_1": "b"})
    assert {k: v for k, v in row.outputs().items() if k.startswith("item")} == {"item_0": "<0>a", "item_1": "<1>b"}


def test_a_program_called_without_a_state_runs_on_a_new_one(program):
    prog = program(
        """
        @lmc.function
        def expand(s, tip):
            s += "Expand:" + tip + "\\n"
            s += lmc.gen("detailed_tip", max_tokens=2)

        @lmc.function
        def p(s, topic):
            s += "Tips for " + topic + ".\\n1." + lmc.gen("tip_1", max_tokens=2)
            branch1 = expand(tip=s["tip_1"])
            branch2 = expand("sleep")
            s += "\\nTip 1: " + branch1["detailed_tip"] + "\\nTip 2: " + branch2["detailed_tip"]
        """
    )
    assert len(lower_program(prog).nodes_of(NewState)) == 2
    row = row_of(prog, {"topic": "health"})
    new = [op.state for op in row.ops if isinstance(op, StateOp)]
    assert len(new) == 2 and all(row.parent[st] is None and row.base[st] == [] for st in new)
    record(row, {"tip_1": "walk"})
    subs = [op for op in row.ops if isinstance(op, GenOp) and op.name == "detailed_tip"]
    row.record(subs[0].id, "Walk daily.")
    row.record(subs[1].id, "Sleep well.")
    assert text(row, new[0]) == "Expand:walk\nWalk daily."  # its own prompt: nothing of the caller's
    assert text(row, new[1]) == "Expand:sleep\nSleep well."
    assert text(row) == "Tips for health.\n1.walk\nTip 1: Walk daily.\nTip 2: Sleep well."
    assert row.outputs() == {"tip_1": "walk"}  # the sub-states' variables are theirs, as in SGLang


def test_lmc_constants_can_be_imported_inside_the_body(program):
    graph = lower_program(program(
        """
        @lmc.function
        def p(s):
            from lmc.lang.ir import REGEX_INT as INT
            s += "n=" + lmc.gen("n", regex=INT)
        """
    ))
    ((_, gen),) = graph.nodes_of(Gen)
    assert dict(gen.args)["regex"] == Const(REGEX_INT)


@pytest.mark.parametrize(("body", "message"), [
    ("from os import getcwd", "apart from lmc's constants"),
    ("from lmc.lang.ir import NOPE", "not a constant"),
    ("with s.var_scope(s['x']):\n        s += 'a'", "must be known before the run"),
])
def test_what_these_constructs_refuse(program, body, message):
    from lmc.plan.errors import CompileError

    with pytest.raises(CompileError, match=message):
        lower_program(program(f"@lmc.function\ndef p(s):\n    s += lmc.gen('x')\n    {body}\n"))
