"""SGLang's spellings that the frontend accepts: each lowered alone and checked on the ops one
row instantiates to (which state gets which text, role and gen)."""

from __future__ import annotations

import pytest

from lmc.compiler.frontend import lower_program
from lmc.plan.errors import CompileError
from lmc.plan.instantiate import ForkOp, GenOp, RoleOp, TextOp, instantiate


def prompts(row, state: int) -> list[str]:
    """A state's prompt ops as short strings: text, <role>/</role>, [gen name]."""
    out = []
    for op in row.history(state):
        if isinstance(op, TextOp):
            out.append(op.text)
        elif isinstance(op, RoleOp):
            out.append(f"<{op.role}>" if op.begin else f"</{op.role}>")
        elif isinstance(op, GenOp):
            out.append(f"[{op.call.name}]")
    return out


def children(row) -> tuple[int, ...]:
    return next(op for op in row.ops if isinstance(op, ForkOp)).children


def test_forks_plus_equals_appends_to_every_branch(program):
    row = instantiate(lower_program(program(
        """
        @lmc.function
        def p(s):
            s += "Q."
            forks = s.fork(2)
            forks += "Tip:"
            forks += lmc.gen("tip", max_tokens=3)
            forks.join()
        """
    )), {})
    for child in children(row):
        assert prompts(row, child) == ["Q.", "Tip:", "[tip]"]
    assert prompts(row, 0) == ["Q."]


def test_forks_plus_equals_lambda_gets_the_branch_index(program):
    row = instantiate(lower_program(program(
        """
        @lmc.function
        def p(s, a, b):
            contexts = [a, b]
            forks = s.fork(len(contexts))
            forks += lambda i: f"Statement {i}: " + contexts[i] + "\\n"
        """
    )), {"a": "x", "b": "y"})
    first, second = children(row)
    assert prompts(row, first) == ["Statement 0: x\n"]
    assert prompts(row, second) == ["Statement 1: y\n"]


def test_with_role_blocks_wrap_their_appends(program):
    row = instantiate(lower_program(program(
        """
        @lmc.function
        def p(s, q):
            with s.user():
                s += q
            with s.assistant():
                s += lmc.gen("a", max_tokens=2)
        """
    )), {"q": "hi"})
    assert prompts(row, 0) == ["<user>", "hi", "</user>", "<assistant>", "[a]", "</assistant>"]


def test_unnamed_gens_and_typed_gens(program):
    graph = lower_program(program(
        """
        @lmc.function(num_api_spec_tokens=64)
        def p(s):
            s += "x" + lmc.gen(max_tokens=2) + lmc.gen_int("n") + lmc.gen_string("t")
        """
    ))
    gens = [op for op in instantiate(graph, {}).ops if isinstance(op, GenOp)]
    assert [g.call.name for g in gens] == ["gen_5_15", "n", "t"]  # unnamed: named by its line and column (after "import lmc")
    assert [g.call.dtype for g in gens] == [None, "int", "str"]


@pytest.mark.parametrize(("body", "message"), [
    ("forks = s.fork(2)\n    forks.join(mode='zip')", "unknown join mode"),
    ("with s.var_scope('x'):\n        s += 'a'", "var_scope"),
    ("with s.user(), s.assistant():\n        s += 'a'", "apart from roles"),
    ("s += lmc.gen_int('n', dtype=float)", "sets dtype itself"),
])
def test_what_is_not_supported_yet_is_a_located_error(program, body, message):
    prog = program(f"@lmc.function\ndef p(s):\n    {body}\n")
    with pytest.raises(CompileError, match=message) as info:
        lower_program(prog)
    assert info.value.location is not None


def test_num_api_spec_tokens_is_checked():
    import lmc

    with pytest.raises(TypeError, match="num_api_spec_tokens"):
        lmc.function(num_api_spec_tokens="many")
