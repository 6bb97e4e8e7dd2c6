"""Host calls run by the executor on the small model: at row start on inputs, later on generated
values, inside a dynamic loop, feeding constraints; an exception fails its row only. The graphs
are built node by node (the plan layer's contract), so these tests do not depend on the frontend."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Literal

import jsonschema
import pydantic
import pytest

from lmc.grammars import json_schema_to_regex
from lmc.plan.errors import PlanError
from lmc.plan.expr import BinOp, Call, Compare, Const, Expr, FString, Global, Name, Var
from lmc.plan.file import Plan
from lmc.plan.ir import (
    ENTRY,
    Break,
    Dynamic,
    Entry,
    Gen,
    Graph,
    HostCall,
    Loop,
    Node,
    Param,
    Select,
    Source,
    Text,
)
from lmc.plan.sources import file_sha256
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import RowJob

S = Name("s")
HERE = __name__
Block = list["Node | tuple[Node, dict[str, Block]]"]


def plan_of(body: Block, params: tuple[str, ...], sources: list[Source] | None = None) -> Plan:
    """A program `def p(s, <params>): <body>` as a plan; a structured node comes with its arms."""
    graph = Graph(sources=sources or [Source(__file__, file_sha256(__file__))])
    graph.g.add_node(ENTRY, node=Entry("p", "s", tuple(Param(p) for p in params)))

    def add(owner: str, arm: str, block: Block) -> None:
        ids = []
        for item in block:
            node, arms = item if isinstance(item, tuple) else (item, {})
            ids.append(graph.add(node))
            for sub, inner in arms.items():
                add(ids[-1], sub, inner)
        graph.set_block(owner, arm, ids)

    add(ENTRY, "body", body)
    graph.link_data()
    return Plan(graph)


def gen(name: str | FString, **args: object) -> Gen:
    key = Const(name) if isinstance(name, str) else name
    return Gen(S, key, tuple((k, Const(v)) for k, v in args.items()))


def call(target: str, function: Callable[..., object], *args: Expr) -> HostCall:
    return HostCall(target, f"{HERE}:{function.__qualname__}", None, args)


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir), max_model_len=512))


def run(engine: Engine, plan: Plan, rows: list[dict[str, object]]) -> list[RowResult]:
    results: list[RowResult] = []
    jobs = [RowJob(i, f"r{i}", row) for i, row in enumerate(rows)]
    execute(engine, Plan.loads(plan.dumps()), jobs, results.append, RunOptions(keep_text=True))
    return sorted(results, key=lambda r: r.index)


# -- the functions the plans call --------------------------------------------------------------
CALLS: list[tuple[str, tuple[object, ...]]] = []


def render(question: str, options: list[str]) -> str:
    CALLS.append(("render", (question,)))
    return f"Question: {question}\n" + "".join(f"{chr(65 + i)}. {o}\n" for i, o in enumerate(options)) + "Answer:"


def double(digit: str) -> str:
    CALLS.append(("double", (digit,)))
    return str(2 * int(digit))


def lookup(key: str) -> str:
    return {"paris": "France", "rome": "Italy"}[key]


def choice_regex(options: list[str]) -> str:
    return "(" + "|".join(re.escape(o) for o in options) + ")"


WIKI = {"Paris": "Paris is the capital of France.", "Rome": "Rome is the capital of Italy."}


def search(query: str) -> str:
    """The ReAct tool: a dict lookup."""
    CALLS.append(("search", (query,)))
    return WIKI.get(query, "No entry.")


class Verdict(pydantic.BaseModel):
    correct: bool
    grade: Literal["A", "B", "C"]


def schema_regex(model: type[pydantic.BaseModel]) -> str:
    """A build_regex_from_object-like helper: a pydantic model to a regex over its JSON."""
    return json_schema_to_regex(json.dumps(model.model_json_schema()))


FINISHED = threading.Condition()
FINISHED_ROWS: list[str] = []
RUNNING = {"now": 0, "most": 0}


def observe(kind: str, value: str) -> str:
    """A slow tool: "wait" blocks until the other rows have finished (an API call that takes a
    while); "sleep" holds its thread briefly. Both count how many calls run at once."""
    with FINISHED:
        RUNNING["now"] += 1
        RUNNING["most"] = max(RUNNING["most"], RUNNING["now"])
    try:
        if kind == "sleep":
            time.sleep(0.05)
            return value.upper()
        with FINISHED:
            FINISHED.wait_for(lambda: len(FINISHED_ROWS) >= 3, timeout=20)
            return f"saw {len(FINISHED_ROWS)} rows finish"
    finally:
        with FINISHED:
            RUNNING["now"] -= 1


# -- tests ---------------------------------------------------------------------------------------
def test_a_call_on_inputs_runs_at_row_start_and_its_text_is_the_prompt(engine):
    rows = [{"question": f"What is {k} + {k}?", "options": [str(k), str(2 * k), "7"]} for k in range(3)]
    with_call = plan_of([call("prompt", render, Name("question"), Name("options")), Text(S, Name("prompt")),
                         gen("answer", max_tokens=3)], ("question", "options"))
    CALLS.clear()
    results = run(engine, with_call, rows)
    assert [c for c in CALLS if c[0] == "render"] == [("render", (r["question"],)) for r in rows]
    written = [plan_of([Text(S, Const(render(r["question"], r["options"]))), gen("answer", max_tokens=3)], ())
               for r in rows]  # the same prompt as literal text: the same greedy answer
    for result, row, plain in zip(results, rows, written):
        assert result.error is None, result.error
        assert result.text == render(row["question"], row["options"]) + result.outputs["answer"]
        assert run(engine, plain, [{}])[0].outputs == result.outputs


def test_a_call_on_a_generated_value_runs_once_it_exists(engine):
    plan = plan_of([Text(S, Name("question")), gen("digit", regex="[1-9]", max_tokens=2),
                    call("doubled", double, Var(S, Const("digit"))),
                    Text(S, BinOp("+", Const(" doubled is "), Name("doubled"))), gen("after", max_tokens=2)],
                   ("question",))
    CALLS.clear()
    results = run(engine, plan, [{"question": f"Pick a digit ({i}):"} for i in range(3)])
    for result in results:
        assert result.error is None, result.error
        digit = result.outputs["digit"]
        assert f"{digit} doubled is {2 * int(digit)}" in result.text
    assert sorted(c for c in CALLS if c[0] == "double") == sorted(("double", (r.outputs["digit"],)) for r in results)


def test_an_exception_in_a_call_fails_its_row_naming_the_function_and_frame(engine):
    plan = plan_of([call("country", lookup, Name("city")), Text(S, BinOp("+", Name("city"), Const(" is in "))),
                    Text(S, Name("country")), gen("more", max_tokens=2)], ("city",))
    ok, bad, ok2 = run(engine, plan, [{"city": "paris"}, {"city": "oslo"}, {"city": "rome"}])
    assert ok.error is None and ok.text.startswith("paris is in France")
    assert ok2.error is None and ok2.text.startswith("rome is in Italy")
    assert bad.error is not None and bad.outputs is None
    message = bad.error.message
    assert message.startswith("row 'r1', node n1: lookup(...) raised KeyError: 'oslo'")
    assert f"{__file__}:" in message and "in lookup: return {" in message


def test_a_call_feeds_a_regex_and_a_select_s_choices(engine):
    plan = plan_of([call("pattern", choice_regex, Name("options")), Text(S, Name("question")),
                    Gen(S, Const("picked"), (("regex", Name("pattern")), ("max_tokens", Const(8)))),
                    HostCall("ordered", "builtins:sorted", None, (Name("options"),)),
                    Select(S, Const("chosen"), Name("ordered"))], ("question", "options"))
    rows = [{"question": "Colour: ", "options": ["red", "green", "blue"]},
            {"question": "Number: ", "options": ["one", "two"]}]
    for result, row in zip(run(engine, plan, rows), rows):
        assert result.error is None, result.error
        assert result.outputs["picked"] in row["options"]
        assert re.fullmatch(choice_regex(row["options"]), result.outputs["picked"])
        assert result.outputs["chosen"] in row["options"]


def test_a_react_loop_calls_its_tool_on_each_generated_action(engine):
    """for i in range(1, 4): the model picks Search or Finish; a Search query (one of the known
    titles) goes to the dict-lookup tool, whose observation is appended; Finish breaks."""
    i = Name("i")
    action, query = FString((Const("action_"), i)), FString((Const("query_"), i))
    step: Block = [
        Text(S, FString((Const("Thought "), i, Const(": I should look it up.\nAction: ")))),
        Select(S, action, Const(["Search", "Finish"])),
        (Dynamic("if", Compare(Var(S, action), ("==",), (Const("Search"),)), deps=("action_",)), {
            "then": [Text(S, Const("[")), Gen(S, query, (("choices", Const(list(WIKI))),)),
                     HostCall("seen", f"{HERE}:search", None, (Var(S, query),)),
                     Text(S, BinOp("+", BinOp("+", Const("]\nObservation: "), Name("seen")), Const("\n")))],
            "else": [Break()]}),
    ]
    plan = plan_of([Text(S, Name("question")),
                    (Loop("i", Call("range", (Const(1), Const(4)))), {"body": step})], ("question",))
    questions = ["Which country is Paris in?", "Where is Rome?", "Is Paris big?", "Tell me about Rome.",
                 "Search Paris or Rome?", "Which city is older?"]
    CALLS.clear()
    results = run(engine, plan, [{"question": q + "\n"} for q in questions])
    searched = 0
    for result in results:
        assert result.error is None, result.error
        out = result.outputs
        for n in range(1, 4):
            if out.get(f"action_{n}") != "Search":
                break
            searched += 1
            assert f"[{out[f'query_{n}']}]\nObservation: {WIKI[out[f'query_{n}']]}\n" in result.text
    assert 0 < searched < 3 * len(questions)  # both arms ran (greedy: the same every run)
    assert len([c for c in CALLS if c[0] == "search"]) == searched


def run_observed(engine: Engine, plan: Plan, rows: list[dict[str, object]], threads: int) -> list[RowResult]:
    results: list[RowResult] = []
    FINISHED_ROWS.clear()
    RUNNING.update(now=0, most=0)

    def on_result(result: RowResult) -> None:
        results.append(result)
        with FINISHED:
            FINISHED_ROWS.append(result.id)
            FINISHED.notify_all()

    jobs = [RowJob(i, f"r{i}", row) for i, row in enumerate(rows)]
    execute(engine, plan, jobs, on_result, RunOptions(keep_text=True, host_threads=threads))
    return sorted(results, key=lambda r: r.index)


def test_host_calls_run_off_the_executor_thread_while_other_rows_go_on(engine):
    """Row 0's tool waits until the other rows are done; they finish meanwhile (gens, and
    their own calls on generated text), so the tool sees them: the engine went on while it
    waited. One thread gives the same outputs, only with one call at a time."""
    kind = Name("kind")
    plan = plan_of([
        Text(S, BinOp("+", Name("topic"), Const(":"))), gen("a", max_tokens=4, ignore_eos=True),
        HostCall("seen", f"{HERE}:observe", None, (kind, Var(S, Const("a")))),
        Text(S, BinOp("+", Const(" -> "), Name("seen"))), gen("b", max_tokens=2, ignore_eos=True),
    ], ("kind", "topic"))
    rows = [{"kind": "wait", "topic": "rain"}] + [{"kind": "sleep", "topic": t} for t in ("snow", "wind", "sun")]
    results = run_observed(engine, plan, rows, threads=4)
    assert all(r.error is None for r in results), results
    assert FINISHED_ROWS[-1] == "r0" and " -> saw 3 rows finish" in results[0].text
    assert RUNNING["most"] >= 2  # the waiting call overlapped the others' calls
    for r in results[1:]:
        assert f" -> {r.outputs['a'].upper()}" in r.text
    rows[0] = {"kind": "sleep", "topic": "rain"}  # one thread: nothing may wait for another row
    serial = run_observed(engine, plan, rows, threads=1)
    assert RUNNING["most"] == 1
    again = run_observed(engine, plan, rows, threads=4)
    assert [r.outputs for r in serial] == [r.outputs for r in again]  # the outputs do not depend on it
    assert [r.text for r in serial] == [r.text for r in again]


def test_a_pydantic_model_becomes_a_schema_through_calls(engine):
    """`Verdict.model_json_schema()` feeds json_schema=, and a helper given the class itself (a
    `Global` argument) feeds regex=; both outputs validate against the model."""
    model = f"{HERE}:Verdict"
    plan = plan_of([
        HostCall("schema", f"{model}.model_json_schema", None),
        HostCall("pattern", f"{HERE}:schema_regex", None, (Global(model),)),
        Text(S, Name("question")),
        Gen(S, Const("by_schema"), (("json_schema", Name("schema")), ("max_tokens", Const(40)))),
        Text(S, Const("\nAgain: ")),
        Gen(S, Const("by_regex"), (("regex", Name("pattern")), ("max_tokens", Const(40)))),
    ], ("question",))
    (result,) = run(engine, plan, [{"question": "Grade this answer as JSON: "}])
    assert result.error is None, result.error
    assert result.meta["flags"] == []
    for name in ("by_schema", "by_regex"):
        jsonschema.validate(json.loads(result.outputs[name]), Verdict.model_json_schema())
        Verdict.model_validate_json(result.outputs[name])


def test_a_call_in_the_program_file_is_loaded_from_its_path(engine, tmp_path):
    """A function of a compiled program file comes from that file (its sha256 checked), imported
    by path when nothing has loaded it yet; a changed file is refused before any row runs."""
    path = tmp_path / "helpers_prog.py"
    path.write_text("def shout(text):\n    return text.upper() + '!'\n")
    plan = plan_of([HostCall("loud", "helpers_prog:shout", 0, (Name("word"),)), Text(S, Name("loud"))],
                   ("word",), [Source(str(path), file_sha256(path))])
    (result,) = run(engine, plan, [{"word": "hello"}])
    assert result.error is None and result.text == "HELLO!"
    path.write_text("def shout(text):\n    return text\n")
    with pytest.raises(PlanError, match="changed since this plan was compiled"):
        run(engine, plan, [{"word": "hello"}])


def test_a_missing_function_fails_the_run_before_any_row(engine):
    plan = plan_of([HostCall("x", f"{HERE}:no_such_function", None), Text(S, Name("x"))], ())
    with pytest.raises(PlanError, match="calls .*:no_such_function .*cannot be found: AttributeError"):
        run(engine, plan, [{}])
    table = (("a", f"{HERE}:search", None), ("b", f"{HERE}:gone", None))  # every entry of a tool table
    plan = plan_of([HostCall("x", f"{HERE}:TOOLS", None, (Name("q"),), table=table, key=Name("q")),
                    Text(S, Name("x"))], ("q",))
    with pytest.raises(PlanError, match="calls .*:gone .*cannot be found"):
        run(engine, plan, [{"q": "a"}])


# -- the same, written as programs (the frontend lowers the calls) -------------------------------
PROGRAMS = '''
import json
from typing import Literal

import pydantic

import lmc

WIKI = {"Paris": "Paris is the capital of France.", "Rome": "Rome is the capital of Italy."}


def search(query):
    return WIKI.get(query, "No entry.")


def calculate(expression):
    return str(eval(expression))


def count(query):
    return f"{query} has {len(query)} letters."


TOOLS = {"Search": search, "Count": count}


class Verdict(pydantic.BaseModel):
    correct: bool
    grade: Literal["A", "B", "C"]


def regex_for(model):
    from lmc.grammars import json_schema_to_regex

    return json_schema_to_regex(json.dumps(model.model_json_schema()))


@lmc.program
def react(s, question: str):
    s += question + "\\n"
    for i in range(1, 4):
        s += f"Thought {i}: I should look it up.\\nAction {i}: " + lmc.select(f"action_{i}", choices=["Search", "Finish"])
        if s[f"action_{i}"] == "Finish":
            break
        s += " [" + lmc.gen(f"query_{i}", choices=list(WIKI)) + "]\\n"
        s += f"Observation {i}: " + search(s[f"query_{i}"]) + "\\n"


@lmc.program
def react_tools(s, question: str):
    s += question + "\\n"
    for i in range(1, 4):
        s += f"Action {i}: " + lmc.select(f"action_{i}", choices=["Search", "Count", "Finish"])
        if s[f"action_{i}"] == "Finish":
            break
        s += " [" + lmc.gen(f"query_{i}", choices=list(WIKI)) + "]\\n"
        s += f"Observation {i}: " + TOOLS[s[f"action_{i}"]](s[f"query_{i}"]) + "\\n"


@lmc.program
def pick_tool(s, tool: str, query: str):
    s += "Tool: " + tool + "\\nObservation: " + TOOLS[tool](query) + "\\n" + lmc.gen("note", max_tokens=2)


@lmc.program
def tool_use(s, lhs: int, rhs: int):
    s += f"What is {lhs} times {rhs}? calculate(" + lmc.gen("expression", regex=r"[1-9]\\*[1-9]") + ") = "
    s += calculate(s["expression"])


@lmc.program
def grade(s, answer: str):
    s += "Grade: " + answer + "\\n" + lmc.gen("verdict", json_schema=Verdict.model_json_schema(), max_tokens=40)
    s += "\\nAgain: " + lmc.gen("again", regex=regex_for(Verdict), max_tokens=40)
'''


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    from lmc.compiler.loader import load_programs

    path = tmp_path_factory.mktemp("programs") / "tools_prog.py"
    path.write_text(PROGRAMS)
    return path, load_programs(path)


def test_programs_react_loop_calls_its_dict_lookup_tool(engine, programs):
    _, progs = programs
    questions = ["Which country is Paris in?", "Where is Rome?", "Is Paris big?", "Search Paris or Rome?"]
    results = run(engine, progs["react"].compile(), [{"question": q} for q in questions])
    searched = 0
    for result in results:
        assert result.error is None, result.error
        for n in range(1, 4):
            if result.outputs.get(f"action_{n}") != "Search":
                break
            searched += 1
            query = result.outputs[f"query_{n}"]
            assert f"[{query}]\nObservation {n}: {WIKI[query]}\n" in result.text
    assert searched > 0


def test_a_tool_table_calls_the_function_the_generated_action_names(engine, programs):
    """TOOLS[action](query), `action` generated: each row runs the function its action names."""
    _, progs = programs
    plan = progs["react_tools"].compile()
    (node,) = [n for n in plan.to_json()["nodes"] if n["kind"] == "call"]
    assert node["function"] == "tools_prog:TOOLS"
    assert node["table"] == [["Count", "tools_prog:count", 0], ["Search", "tools_prog:search", 0]]
    questions = ["Which country is Paris in?", "Where is Rome?", "Count the letters of Paris.", "Finish now."]
    results = run(engine, plan, [{"question": q} for q in questions])
    tools = {"Search": lambda q: WIKI[q], "Count": lambda q: f"{q} has {len(q)} letters."}
    used = set()
    for result in results:
        assert result.error is None, result.error
        for n in range(1, 4):
            action = result.outputs.get(f"action_{n}")
            if action not in tools:
                break
            used.add(action)
            query = result.outputs[f"query_{n}"]
            assert f"[{query}]\nObservation {n}: {tools[action](query)}\n" in result.text
    assert used  # a tool ran (greedy: the same every run)


def test_an_unknown_key_of_a_tool_table_fails_its_row_naming_the_keys(engine, programs):
    _, progs = programs
    rows = [{"tool": "Count", "query": "Rome"}, {"tool": "Weather", "query": "Rome"}]
    ok, unknown = run(engine, progs["pick_tool"].compile(), rows)
    assert ok.error is None and "Observation: Rome has 4 letters.\n" in ok.text
    assert unknown.error is not None
    assert "TOOLS['Weather']: the table has no key 'Weather' (its keys: 'Count', 'Search')" in unknown.error.message
    assert "row 'r1'" in unknown.error.message


def test_programs_tool_use_and_pydantic_schemas(engine, programs):
    _, progs = programs
    (tool,) = run(engine, progs["tool_use"].compile(), [{"lhs": 3, "rhs": 4}])
    assert tool.error is None, tool.error
    expression = tool.outputs["expression"]
    assert tool.text.endswith(f"calculate({expression}) = {eval(expression)}")
    (graded,) = run(engine, progs["grade"].compile(), [{"answer": "42"}])
    assert graded.error is None and graded.meta["flags"] == [], graded
    for name in ("verdict", "again"):
        record = json.loads(graded.outputs[name])
        assert set(record) == {"correct", "grade"} and isinstance(record["correct"], bool)
        assert record["grade"] in ("A", "B", "C")


def test_lmc_compile_run_and_explain_a_program_with_host_calls(programs, small_model_dir, tmp_path):
    from typer.testing import CliRunner

    from lmc.cli.main import app

    path, _ = programs
    runner = CliRunner()
    plan = tmp_path / "react.plan.json"
    compiled = runner.invoke(app, ["compile", str(path), "--program", "react", "-o", str(plan)])
    assert compiled.exit_code == 0, compiled.output
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"question": q}) + "\n" for q in ["Where is Rome?", "Is Paris big?"]))
    out = tmp_path / "out.jsonl"
    ran = runner.invoke(app, ["run", str(plan), "--inputs", str(data), "-o", str(out), "--model", str(small_model_dir),
                              "--no-progress"])
    assert ran.exit_code == 0, ran.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all("outputs" in r for r in rows)
    explained = runner.invoke(app, ["explain", str(plan)])
    assert explained.exit_code == 0 and "tools_prog:search(s[f'query_{i}'])" in explained.output
