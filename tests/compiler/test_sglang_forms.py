"""SGLang's spellings that the frontend accepts: each lowered alone and checked on the ops one
row instantiates to (which state gets which text, role and gen)."""

from __future__ import annotations

import pytest

from lmc.compiler.frontend import lower_program
from lmc.plan.errors import CompileError, RowError
from lmc.plan.file import Plan
from lmc.plan.instantiate import ForkOp, GenOp, ImageOp, RoleOp, TextOp, instantiate


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
    ("with s.var_scope():\n        s += 'a'", "takes the variable's name"),
    ("with s.user(), s.assistant():\n        s += 'a'", "apart from roles"),
    ("s += lmc.gen_int('n', dtype=float)", "sets dtype itself"),
    ("forks = s.fork(2)\n    x = forks.join()", r"forks.join\(\) is a statement on its own line"),
    ("s += s.text(0)", r"s.text\(\) takes no arguments"),
    ("from json import dumps", "apart from lmc's constants"),
    ("from lmc import gen", "not a constant"),
    ("xs = []\n    ys = xs\n    xs.append('a')", "not this program's own"),
    ("for xs in [[1], [2]]:\n        xs.append(3)", "not this program's own"),
    ("xs = []\n    ys = []\n    for i in range(2):\n        s += str(ys)\n        xs.append(i)\n        ys = xs",
     "not this program's own"),
    ("s += lmc.user(lmc.user_begin())", "roles do not nest"),
    ("s += lmc.user_end('x')", "takes no arguments"),
    ("s += lmc.video('clip.mp4')", "takes path, num_frames"),
    ("s += lmc.video('clip.mp4', 0)", "num_frames, an int >= 1"),
])
def test_what_is_not_supported_yet_is_a_located_error(program, body, message):
    prog = program(f"@lmc.function\ndef p(s):\n    {body}\n")
    with pytest.raises(CompileError, match=message) as info:
        lower_program(prog)
    assert info.value.location is not None


def test_video_is_an_image_node_with_frames_and_images_keep_their_plan_bytes(program):
    """SGLang's `video(path, num_frames)` (lang/api.py): compiled like `image`, the frame count
    an input or a constant; a plan without videos has no `frames` key (older plans read alike)."""
    graph = lower_program(program(
        """
        @lmc.function
        def p(s, clip, n):
            s += lmc.user(lmc.video(clip, n) + "What happens?" + lmc.image("still.png"))
        """
    ))
    plan = Plan.from_json(Plan(graph).to_json())
    kinds = [n for n in plan.to_json()["nodes"] if n["kind"] == "image"]
    assert [("frames" in n) for n in kinds] == [True, False]
    row = instantiate(plan.graph, {"clip": "a.mp4", "n": 8})
    assert [(op.path, op.frames) for op in row.ops if isinstance(op, ImageOp)] == [("a.mp4", 8), ("still.png", None)]
    with pytest.raises(RowError, match="num_frames, an int >= 1"):
        instantiate(plan.graph, {"clip": "a.mp4", "n": "8"})


def test_num_api_spec_tokens_is_checked():
    import lmc

    with pytest.raises(TypeError, match="num_api_spec_tokens"):
        lmc.function(num_api_spec_tokens="many")


def test_role_markers_and_an_empty_system_turn_are_sglangs_role_edges(program):
    """SGLang's api.py: `system()` is RoleBegin + RoleEnd with nothing between, `user_begin()` /
    `user_end()` one edge each; `with s.user():` the same pair around the body."""
    row = instantiate(lower_program(program(
        """
        @lmc.function
        def p(s, q):
            s += lmc.system()
            s += lmc.user_begin()
            s += "Q: " + q
            s += lmc.user_end()
            s += lmc.assistant_begin() + lmc.gen("a", max_tokens=2) + lmc.assistant_end()
        """
    )), {"q": "why"})
    assert prompts(row, 0) == ["<system>", "</system>", "<user>", "Q: why", "</user>", "<assistant>", "[a]", "</assistant>"]


def test_append_and_extend_rebuild_a_local_list_and_may_collect_states(program):
    row = instantiate(lower_program(program(
        """
        @lmc.function
        def p(s, q):
            words = []
            for w in ["a", "b"]:
                words.append(w + q)
            words.extend(["c"])
            branches = []
            for f in s.fork(2):
                branches.append(f)
            both = []
            both.extend(branches)
            for k, b in enumerate(both):
                b += words[k]
            return {"words": words, "n": len(both)}
        """
    )), {"q": "!"})
    first, second = children(row)
    assert prompts(row, first) == ["a!"] and prompts(row, second) == ["b!"]
    assert row.outputs() == {"words": ["a!", "b!", "c"], "n": 2}


def test_a_plain_function_taking_the_state_is_inlined_like_a_program(program):
    """SGLang runs such a helper on the caller's state (tree_of_thought_deep's propose_plan)."""
    row = instantiate(lower_program(program(
        """
        def ask(s, question, n):
            s += lmc.user(question)
            forks = s.fork(n)
            forks += lmc.assistant(lmc.gen("plan", max_tokens=2))
            return forks

        @lmc.function
        def p(s, q):
            plans = ask(s, q, 2)
            for plan in plans:
                ask(plan, "more?", 1)
        """
    )), {"q": "why"})
    forks = [op for op in row.ops if isinstance(op, ForkOp)]
    assert [len(op.children) for op in forks] == [2, 1, 1]
    assert prompts(row, 0) == ["<user>", "why", "</user>"]
    grandchild = forks[1].children[0]
    assert prompts(row, grandchild)[-7:] == ["</assistant>", "<user>", "more?", "</user>", "<assistant>", "[plan]", "</assistant>"]


def test_fork_forms_sglang_accepts(program):
    """`s.fork()` is one branch (SGLang's default size), `s.fork(1)[0]` a single branch, and
    `position_ids_offset=` has no effect (SGLang's StreamExecutor.fork never reads it);
    `forks += [a, b]` appends item i to branch i (ProgramStateGroup.__iadd__)."""
    row = instantiate(lower_program(program(
        """
        @lmc.function
        def p(s):
            s += "Q."
            one = s.fork(1)[0]
            one += "one"
            default = s.fork()
            default += "default"
            pair = s.fork(2, position_ids_offset=[0, 0])
            pair += ["left", "right"]
        """
    )), {})
    forks = [op.children for op in row.ops if isinstance(op, ForkOp)]
    assert [len(c) for c in forks] == [1, 1, 2]
    assert prompts(row, forks[0][0]) == ["Q.", "one"]
    assert prompts(row, forks[1][0]) == ["Q.", "default"]
    assert [prompts(row, c)[-1] for c in forks[2]] == ["left", "right"]
