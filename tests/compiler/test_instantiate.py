"""Per-row instantiation: ops, fork histories, residual text, dynamic regions, outputs, inputs."""

from __future__ import annotations

import pytest

from lmc.compiler.frontend import lower_program
from lmc.plan.errors import CompileError, RowError
from lmc.plan.instantiate import (
    ForkOp,
    GenOp,
    Instantiator,
    JoinOp,
    RoleOp,
    SelectOp,
    TextOp,
    instantiate,
)

ROLES = {"system": ("<s>", "</s>"), "user": ("<u>", "</u>"), "assistant": ("<a>", "</a>")}


def _text(row, state):
    """The rendered prompt of a state with generated values filled in (for assertions)."""
    out = []
    for op in row.history(state):
        if isinstance(op, TextOp):
            out.append(row.text(op))
        elif isinstance(op, (GenOp, SelectOp)):
            out.append(row.values.get(op.id, f"<{op.name}?>"))
        elif isinstance(op, RoleOp):
            out.append(f"[{op.role}{'' if op.begin else '/'}]")
    return "".join(out)


def test_judge_row_has_forks_histories_and_residual_text(program):
    prog = program(
        """
        @lmc.program
        def judge(s, question: str):
            s += lmc.user(f"Q: {question}")
            forks = s.fork(2)
            for f, dim in zip(forks, ["a", "b"]):
                f += f"Rate {dim}:" + lmc.gen("score", max_tokens=2)
            s.join(forks)
            s += "Scores: " + ", ".join(f["score"] for f in forks)
            s += lmc.select("verdict", choices=["ok", "bad"])
        """
    )
    row = instantiate(lower_program(prog), {"question": "why?"}, roles=ROLES, row_id="r1")
    fork = next(op for op in row.ops if isinstance(op, ForkOp))
    assert fork.children == (1, 2)
    assert any(isinstance(op, JoinOp) and op.children == (1, 2) for op in row.ops)
    assert _text(row, 1) == "<u>Q: why?</u>Rate a:<score?>"
    assert _text(row, 2) == "<u>Q: why?</u>Rate b:<score?>"
    pending_text = next(op for op in row.ops if isinstance(op, TextOp) and op.text is None)
    gens = [op for op in row.ops if isinstance(op, GenOp)]
    assert pending_text.deps == tuple(g.id for g in gens)
    assert row.finished and not row.done
    for g, value in zip(gens, ["4", "2"]):
        assert row.record(g.id, value) == []
    select = next(op for op in row.ops if isinstance(op, SelectOp))
    row.record(select.id, "ok")
    assert _text(row, 0) == "<u>Q: why?</u>Scores: 4, 2ok"
    assert row.outputs() == {"score": ["4", "2"], "verdict": "ok"}


def test_dynamic_loop_expands_as_values_arrive(program):
    prog = program(
        """
        @lmc.program
        def agent(s, question: str):
            s += question
            for step in range(5):
                s += lmc.select(f"act_{step}", choices=["go", "stop"])
                if s[f"act_{step}"] == "stop":
                    break
                s += lmc.gen(f"obs_{step}", max_tokens=4)
            s += lmc.gen("answer", max_tokens=4)
        """
    )
    row = instantiate(lower_program(prog), {"question": "q"})
    assert [type(op).__name__ for op in row.ops] == ["TextOp", "SelectOp"]
    assert row.waiting_for == {1}
    new = row.record(1, "go")
    assert [op.name for op in new if isinstance(op, (GenOp, SelectOp))] == ["obs_0", "act_1"]
    new = row.record(new[-1].id, "stop")
    assert [op.name for op in new] == ["answer"]
    assert row.finished
    row.record(new[0].id, "42")
    assert row.record(2, "seen") == []  # obs_0: nothing was waiting on it
    assert row.outputs() == {"act_0": "go", "obs_0": "seen", "act_1": "stop", "answer": "42"}


def test_while_loop_is_bounded(program):
    prog = program(
        """
        @lmc.program
        def spin(s):
            s += lmc.gen("x", max_tokens=1)
            while s["x"] != "done":
                s += lmc.gen("x", max_tokens=1)
        """
    )
    row = Instantiator(lower_program(prog), max_loop_iterations=3).row({})
    ops = row.start()
    with pytest.raises(RowError, match="more than 3 times"):
        for _ in range(5):
            ops = row.record(ops[-1].id, "again")


def test_return_dict_and_json_values(program):
    prog = program(
        """
        @lmc.program
        def extract(s, text: str):
            s += text + lmc.gen("obj", json_schema={"type": "object"})
            return {"name": s.json("obj")["name"], "raw": s["obj"]}
        """
    )
    row = instantiate(lower_program(prog), {"text": "t"})
    row.record(1, '{"name": "Ada"}')
    assert row.outputs() == {"name": "Ada", "raw": '{"name": "Ada"}'}


def test_a_returned_list_is_ret_value_beside_the_variables(program):
    prog = program(
        """
        @lmc.program
        def pair(s, text: str):
            s += text + lmc.gen("a", max_tokens=1) + lmc.gen("b", max_tokens=1)
            return [s["a"], s["b"]]
        """
    )
    row = instantiate(lower_program(prog), {"text": "t"})
    gen_a, gen_b = row.pending()
    row.record(gen_a.id, "x")
    row.record(gen_b.id, "y")
    assert row.outputs() == {"a": "x", "b": "y", "ret_value": ["x", "y"]}


def test_star_args_are_a_list_input(program):
    graph = lower_program(program(
        """
        @lmc.program
        def rag(s, question: str, *context: str, k: int = 1):
            s += question + "\\n".join(context) * k
        """
    ))
    inst = Instantiator(graph)
    assert inst.bind({"question": "q", "context": ["a", "b"]}) == {"question": "q", "context": ["a", "b"], "k": 1}
    assert inst.bind({"question": "q"})["context"] == []  # no *context given: empty, as in Python
    assert instantiate(graph, {"question": "q", "context": ["a", "b"]}).ops[0].text == "qa\nb"
    with pytest.raises(RowError, match="should be list"):
        inst.bind({"question": "q", "context": "a"})
    with pytest.raises(CompileError, match=r"cannot take \*\*kwargs"):
        lower_program(program("@lmc.program\ndef p(s, **extra):\n    s += 'x'\n"))


def test_inputs_are_bound_and_checked(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s, q: str, k: int = 2, tags: list[str] = []):
            s += q * k + ",".join(tags)
        """
    ))
    inst = Instantiator(graph)
    assert inst.bind({"q": "a", "id": 3}) == {"q": "a", "k": 2, "tags": []}
    with pytest.raises(RowError, match="missing field 'q'"):
        inst.bind({}, row_id=5)
    with pytest.raises(RowError, match="field 'k' should be int, got bool"):
        inst.bind({"q": "a", "k": True})
    with pytest.raises(RowError, match="row 7.*should be list"):
        inst.bind({"q": "a", "tags": "x"}, row_id=7)
    with pytest.raises(RowError, match="must be a JSON object"):
        inst.bind(["q"])


def test_row_errors_name_row_and_node(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s, n: int):
            s += "x" + n
        """
    ))
    with pytest.raises(RowError) as info:
        instantiate(graph, {"n": 1}, row_id=9)
    assert info.value.row_id == 9 and info.value.node == "n1"
    assert "row 9, node n1" in str(info.value)


def test_gen_arguments_from_inputs_are_validated_per_row(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s, limit: int):
            s += lmc.gen("x", max_tokens=limit)
        """
    ))
    assert instantiate(graph, {"limit": 3}).ops[0].call.sampling.max_tokens == 3
    with pytest.raises(RowError, match="max_tokens must be an int >= 0"):
        instantiate(graph, {"limit": -1})


def test_unrendered_roles_stay_markers(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s):
            s += lmc.system("be brief")
        """
    ))
    ops = instantiate(graph, {}).ops
    assert [(type(op).__name__, getattr(op, "begin", None)) for op in ops] == [
        ("RoleOp", True), ("TextOp", None), ("RoleOp", False)]
