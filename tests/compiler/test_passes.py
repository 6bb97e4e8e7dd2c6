"""Each pass on small programs: the graph before and after, and what it must leave unchanged."""

from __future__ import annotations

import pytest

from lmc.compiler.frontend import lower_program
from lmc.compiler.passes import (
    hoist_shared_prefixes,
    merge_forks,
    order,
    precompile_constraints,
    prefetch_kv,
    run_passes,
)
from lmc.plan.errors import CompileError
from lmc.plan.expr import unparse
from lmc.plan.instantiate import CallOp, ForkOp, TextOp, instantiate
from lmc.plan.ir import Fork, Gen, Graph, Prefix, RoleBegin, RoleEnd, Select, Text
from lmc.plan.options import PASS_NAMES, CompileOptions
from lmc.plan.order import row_order

OPTIONS = CompileOptions()


def outline(graph: Graph) -> list[str]:
    """One line per node: indentation for arms, the kind, and what matters for these tests."""
    lines = []
    for node_id, _, _, depth in graph.walk():
        node = graph.node(node_id)
        detail = ""
        if isinstance(node, Text):
            detail = unparse(node.value) + (" prefetch" if node.prefetch else "")
        elif isinstance(node, Prefix):
            parts = [unparse(p.value) if isinstance(p, Text) else f"<{p.role}{'' if isinstance(p, RoleBegin) else '/'}>"
                     for p in node.pieces]
            detail = f"{node.scope} " + " ".join(parts)
        elif isinstance(node, Fork):
            detail = f"{list(node.targets)} {[unparse(s) for s in node.sizes]} group={node.group}"
        elif isinstance(node, (RoleBegin, RoleEnd)):
            detail = node.role
        lines.append("  " * depth + f"{node.kind} {detail}".rstrip())
    return lines


def texts(graph: Graph, row: dict) -> dict[int, str]:
    """Every state's full prompt for a row, gens answered with stand-ins (what passes must
    never change)."""
    program = instantiate(graph, row, roles={r: (f"<{r}>", f"</{r}>") for r in ("system", "user", "assistant")})
    for op in program.pending():
        program.record(op.id, f"[{op.name}{op.state}]")
    out: dict[int, str] = {}
    for op in program.ops:
        if isinstance(op, TextOp):
            out[op.state] = out.get(op.state, "") + program.text(op)
        elif hasattr(op, "name"):
            out[op.state] = out.get(op.state, "") + program.values[op.id]
    return out


FEW_SHOT = """
EXAMPLES = [("2+2", "4"), ("3+5", "8")]

@lmc.program
def few_shot(s, question: str):
    s += lmc.system("You add numbers.")
    intro = "Examples:\\n"
    s += intro
    for q, a in EXAMPLES:
        s += f"Q: {q}\\nA: {a}\\n"
    s += f"Q: {question}\\nA:" + lmc.gen("answer", max_tokens=4)
"""


def test_hoist_rows_before_after(program):
    before = lower_program(program(FEW_SHOT))
    assert outline(before) == [
        "role_begin system", "text 'You add numbers.'", "role_end system", "assign",
        "text intro", "loop", "  text f'Q: {q}\\nA: {a}\\n'", "text f'Q: {question}\\nA:'", "gen",
    ]
    after = hoist_shared_prefixes(before, OPTIONS)
    assert outline(after) == [
        "prefix rows <system/> 'You add numbers.' <system/> 'Examples:\\nQ: 2+2\\nA: 4\\nQ: 3+5\\nA: 8\\nQ:'"
        .replace("<system/> 'You", "<system> 'You"),
        "assign", "text ' '", "text f'{question}\\nA:'", "gen",
    ]
    row = {"question": "1+1"}
    assert texts(after, row) == texts(before, row)


def test_rows_prefix_stops_at_inputs_and_keeps_loop_variables_that_are_read_later(program):
    before = lower_program(program(
        """
        @lmc.program
        def p(s, q: str):
            for word in ["a", "b"]:
                s += word
            s += q + word
        """
    ))
    after = hoist_shared_prefixes(before, OPTIONS)
    assert outline(after) == outline(before)  # `word` is read after the loop: nothing hoisted
    assert texts(after, {"q": "x"}) == {0: "abxb"}


def test_hoist_forks_before_after(program):
    before = lower_program(program(
        """
        @lmc.program
        def p(s, question: str):
            s += question
            forks = s.fork(2)
            for f, dim in zip(forks, ["tone", "facts"]):
                f += lmc.user(f"Judge the {dim} of: {question}")
                f += lmc.gen("score", max_tokens=2)
        """
    ))
    loop_body = [line for line in outline(before) if line.startswith("  ")]
    assert loop_body == ["  role_begin user", "  text f'Judge the {dim} of: {question}'", "  role_end user", "  gen"]
    after = hoist_shared_prefixes(before, OPTIONS)
    loop_body = [line for line in outline(after) if line.startswith("  ")]
    assert loop_body == ["  prefix forks <user> 'Judge the '", "  text f'{dim} of: {question}'", "  role_end user", "  gen"]
    assert texts(after, {"question": "q"}) == texts(before, {"question": "q"})


def test_select_choice_prefix(program):
    graph = hoist_shared_prefixes(lower_program(program(
        """
        @lmc.program
        def p(s):
            s += "Answer:" + lmc.select("a", choices=[" yes", " yeah", " no"])
            s += lmc.select("b", choices=["x", "y"])
        """
    )), OPTIONS)
    selects = [n for _, n in graph.nodes_of(Select)]
    assert [s.choice_prefix for s in selects] == [" ", None]


MERGE = """
@lmc.program
def p(s, n: int):
    s += "start"
    a = s.fork(2)
    k = 3
    b = s.fork(k)
    for f in a:
        g = f.fork(2)
        for h in g:
            h += lmc.gen("x", max_tokens=1)
    c = s.fork(n)
    m = len(c)
    d = s.fork(m)
"""


def test_merge_forks_before_after(program):
    before = lower_program(program(MERGE))
    after = merge_forks(before, OPTIONS)
    forks_before = [line.strip() for line in outline(before) if "fork" in line]
    forks_after = [line.strip() for line in outline(after) if "fork" in line]
    assert forks_before == [
        "fork ['a'] ['2'] group=None", "fork ['b'] ['k'] group=None", "fork ['g'] ['2'] group=None",
        "fork ['c'] ['n'] group=None", "fork ['d'] ['m'] group=None",
    ]
    # b's size reads k, assigned between the two forks: they stay apart; d's reads m likewise
    assert forks_after == [
        "fork ['a'] ['2'] group=n2", "fork ['b'] ['k'] group=n4", "fork ['g'] ['2'] group=n2",
        "fork ['c'] ['n'] group=n9", "fork ['d'] ['m'] group=n11",
    ]


def test_merge_forks_merges_adjacent_siblings(program):
    before = lower_program(program(
        """
        @lmc.program
        def p(s):
            s += "start"
            a = s.fork(2)
            b = s.fork(3)
            for f in a + b:
                f += lmc.gen("x", max_tokens=1)
        """
    ))
    after = merge_forks(before, OPTIONS)
    assert [line for line in outline(after) if "fork" in line] == ["fork ['a', 'b'] ['2', '3'] group=n2"]
    ops_before = [op for op in instantiate(before, {}).ops if isinstance(op, ForkOp)]
    ops_after = [op for op in instantiate(after, {}).ops if isinstance(op, ForkOp)]
    assert (len(ops_before), len(ops_after)) == (2, 1)
    assert ops_after[0].children == (1, 2, 3, 4, 5)
    assert texts(after, {}) == texts(before, {})


def test_prefetch_kv_before_after(program):
    before = lower_program(program(
        """
        @lmc.program
        def p(s):
            s += "Intro. "
            forks = s.fork(2)
            for f in forks:
                f += lmc.gen("v", max_tokens=1)
            s += "Votes: " + ", ".join(f["v"] for f in forks) + "."
            s += lmc.user(", ".join(f["v"] for f in forks))
        """
    ))
    after = prefetch_kv(before, OPTIONS)
    top = [line for line in outline(after) if not line.startswith(" ")]
    assert top[:3] == ["text 'Intro. '", "fork ['forks'] ['2'] group=None", "loop"]
    assert top[3:] == [
        "text 'Votes: ' prefetch",
        "text (', '.join([f['v'] for f in forks]) + '.')".replace("[f['v'] for f in forks]", "(f['v'] for f in forks)"),
        "role_begin user", "text ', '.join((f['v'] for f in forks))", "role_end user",
    ]
    assert texts(after, {}) == texts(before, {})
    flags = [op.prefetch for op in instantiate(after, {}).ops if isinstance(op, TextOp) and op.state == 0]
    assert flags == [False, True, False, False]


def test_precompile_constraints_shares_entries_and_locates_failures(program):
    graph = precompile_constraints(lower_program(program(
        """
        @lmc.program
        def p(s):
            s += lmc.gen("a", regex=r"[0-9]+") + lmc.gen("b", regex=r"[0-9]+")
            s += lmc.gen("c", dtype=int) + lmc.gen("d", choices=["x", "y"]) + lmc.gen("e")
        """
    )), OPTIONS)
    gens = {n.name.value: n.constraint for _, n in graph.nodes_of(Gen)}
    table = graph.meta["constraints"]
    assert gens["a"] == gens["b"] and gens["e"] is None
    assert "d" not in gens  # gen(choices=...) is a select, as SGLang decides it: no constraint
    assert len(table) == 2
    assert {e["kind"] for e in table.values()} == {"regex", "dtype"}
    entry = table[gens["a"]]
    assert entry["regex"] == "[0-9]+" and entry["dfa_states"] == 2 and entry["cache_key"]
    bad = program(
        """
        @lmc.program
        def q(s):
            s += "x"
            s += lmc.gen("a", regex=r"(a)\\1")
        """
    )
    with pytest.raises(CompileError) as info:
        precompile_constraints(lower_program(bad), OPTIONS)
    assert info.value.location.line == 6 and "cannot be compiled" in info.value.message


def test_order_groups_rows_sharing_a_prefix(program):
    graph = lower_program(program(
        """
        @lmc.program
        def p(s, topic: str, q: str):
            s += f"Topic: {topic}. Long shared instructions for this topic. Question: {q}"
            s += lmc.gen("a", max_tokens=2)
        """
    ))
    rows = [{"topic": t, "q": f"q{i}"} for i, t in enumerate(["math", "art", "math", "art", "math"])]
    rows.insert(2, {"topic": "broken"})  # no `q`: cannot be instantiated, goes last
    assert order(graph, OPTIONS) is graph  # the order is the executor's; the pass only asks for it
    assert row_order(graph, rows) == [0, 3, 5, 1, 4, 2]  # the math rows, the art rows, the broken row


def test_disabled_passes_do_not_run(program):
    graph = lower_program(program(FEW_SHOT))
    off = run_passes(graph, CompileOptions(disabled_passes=("hoist_shared_prefixes",)))
    assert not off.nodes_of(Prefix)
    assert off.meta["passes"] == [p for p in PASS_NAMES if p != "hoist_shared_prefixes"]
    with pytest.raises(ValueError, match="unknown pass 'hoist'"):
        CompileOptions(disabled_passes=("hoist",))


def test_cache_model_sizes_a_constrained_gen_by_its_longest_match():
    """A gen's value is modelled as the most tokens it can have: a bounded regular constraint
    caps `max_tokens` (a token covers at least one character); unbounded ones do not."""
    from lmc.plan.cache_model import generated_length
    from lmc.plan.language import gen

    assert generated_length(gen("a", regex="[1-5]")) == 1
    assert generated_length(gen("b", choices=["yes", "no way"])) == 6
    assert generated_length(gen("c", json_schema={"type": "boolean"})) == 5
    assert generated_length(gen("d", regex=r"\d+", max_tokens=9)) == 9
    assert generated_length(gen("e", max_tokens=7)) == 7


def test_hoist_rows_moves_shared_text_past_a_host_call(program):
    """A host call's result is known only per row, so text reading it stays; the constant text
    around the call is one prefix, and every row's prompt is unchanged."""
    before = lower_program(program(
        """
        def shout(x):
            return x.upper()

        @lmc.program
        def p(s, q: str):
            s += "Shared instructions. "
            tip = shout(q)
            s += "More shared text."
            s += " " + tip + lmc.gen("a", max_tokens=2)
        """
    ))
    after = hoist_shared_prefixes(before, OPTIONS)
    assert outline(after)[:2] == ["prefix rows 'Shared instructions. More shared text.'", "call"]

    def prompt(graph: Graph) -> str:
        row = instantiate(graph, {"q": "why"})
        while row.pending():
            op = row.pending()[0]
            if isinstance(op, CallOp):
                args, _ = row.call_arguments(op, lambda g: None)
                row.record(op.id, args[0].upper())
            else:
                row.record(op.id, "[gen]")
        return "".join(row.text(op) if isinstance(op, TextOp) else row.values.get(op.id, "")
                       for op in row.ops if not isinstance(op, CallOp))

    assert prompt(after) == prompt(before) == "Shared instructions. More shared text. WHY[gen]"
