"""Calls to plain Python functions inside a program become `call` nodes: the target named from
the program's file, the arguments plan expressions, the result a local that later statements
read; what cannot be a call node stays a located compile error."""

from __future__ import annotations

import pytest

from lmc.compiler.frontend import lower_program
from lmc.plan.errors import CompileError
from lmc.plan.expr import Const, Global, Name, Var, free_names, unparse
from lmc.plan.ir import Assign, Dynamic, Gen, HostCall, Select, Text

HELPERS = '''
import json
import math

import pydantic


class Verdict(pydantic.BaseModel):
    correct: bool


def render(question, options):
    return question + "".join(options)


def regex_for(model, strict=True):
    return json.dumps(model.model_json_schema())


def calculate(expression):
    return str(eval(expression))


TOOLS = {"calc": calculate, "exp": math.exp}
NOT_TOOLS = {"calc": calculate, "answer": 42}
LAMBDAS = {"calc": lambda e: e}
'''


def calls(graph) -> list[HostCall]:
    return [n for _, n in graph.nodes_of(HostCall)]  # type: ignore[misc]


def test_a_helper_on_inputs_is_a_call_node_whose_result_the_text_reads(program):
    prog = program(HELPERS + '''
@lmc.program
def p(s, question: str, options: list):
    s += "Q: " + render(question, options)
    s += lmc.gen("answer", max_tokens=4)
''')
    graph = lower_program(prog)
    (call,) = calls(graph)
    stem = graph.sources[0].path.rsplit("/", 1)[-1].removesuffix(".py")
    assert call.function == f"{stem}:render" and call.source == 0
    assert call.positional == (Name("question"), Name("options"))
    text = next(n for _, n in graph.nodes_of(Text))
    assert isinstance(call.target, str) and call.target in free_names(text.value)
    ids = [i for i, _, _, _ in graph.walk()]
    assert ids.index(next(i for i, n in graph.nodes_of(HostCall))) < ids.index(next(i for i, n in graph.nodes_of(Text)))


def test_module_functions_class_methods_and_classes_as_arguments(program):
    prog = program(HELPERS + '''
@lmc.program
def p(s, x: float):
    schema = Verdict.model_json_schema()
    pattern = regex_for(Verdict, strict=False)
    s += "e^x = " + str(math.exp(x)) + lmc.gen("a", json_schema=schema)
    s += lmc.gen("b", regex=pattern)
''')
    graph = lower_program(prog)
    stem = graph.sources[0].path.rsplit("/", 1)[-1].removesuffix(".py")
    by_function = {c.function.split(":", 1)[1]: c for c in calls(graph)}
    assert set(by_function) == {"Verdict.model_json_schema", "regex_for", "math.exp"}
    assert all(c.function.startswith(f"{stem}:") and c.source == 0 for c in calls(graph))
    helper = by_function["regex_for"]
    assert helper.positional == (Global(f"{stem}:Verdict", 0),)
    assert [k for k, _ in helper.keywords] == ["strict"]
    assert by_function["math.exp"].positional == (Name("x"),)


def test_a_call_on_a_generated_value_and_control_flow_over_its_result(program):
    prog = program(HELPERS + '''
@lmc.program
def tool_use(s, question: str):
    s += question + lmc.gen("expression", stop=")")
    result = calculate(s["expression"])
    if result == "0":
        s += "zero"
    else:
        s += " = " + result
''')
    graph = lower_program(prog)
    (call,) = calls(graph)
    assert isinstance(call.positional[0], Var) and unparse(call.positional[0]) == "s['expression']"
    assert graph.nodes_of(Dynamic)  # a call's result is known only at run time, like a gen's
    assert not [n for _, n in graph.nodes_of(Assign) if unparse(n.value).startswith("calculate")]


def test_a_call_feeding_choices_and_regex(program):
    prog = program(HELPERS + '''
@lmc.program
def p(s, question: str, options: list):
    s += question + lmc.select("pick", choices=sorted(set(options)))
    s += lmc.gen("again", regex=regex_for(Verdict))
''')
    graph = lower_program(prog)
    assert sorted(c.function for c in calls(graph))[0] == "builtins:set"  # not a plan builtin: a call
    assert {c.function.split(":")[1] for c in calls(graph)} == {"set", "regex_for"}
    select = next(n for _, n in graph.nodes_of(Select))
    gen = next(n for _, n in graph.nodes_of(Gen) if unparse(n.name) == "'again'")
    assert free_names(select.choices) and free_names(dict(gen.args)["regex"])


@pytest.mark.parametrize(("body", "message"), [
    ('print(question)', "`print(...)` cannot run inside an lmc program"),
    ('s += open(question).read()', "`open(...)` cannot run inside an lmc program"),
    ('s += "".join(render(o, []) for o in [question])', "inside a comprehension"),
    ('s += question if question else render(question, [])', "only sometimes"),
    ('while calculate(s["x"]) != "1":\n        s += lmc.gen("x", max_tokens=1)', "while"),
    ('s += render(s, [])', "the state is passed to `render`"),
    ('s += NOT_TOOLS[s["x"]](question)', "must map str keys to functions"),
    ('s += LAMBDAS[s["x"]](question)', "has no name the plan can use"),
    ('s += "".join(TOOLS[k](question) for k in ["calc"])', "inside a comprehension"),
])
def test_what_cannot_be_a_call_node_is_a_located_error(program, body, message):
    source = HELPERS + f'''
@lmc.program
def p(s, question: str):
    s += lmc.gen("x", max_tokens=1)
    {body}
'''
    with pytest.raises(CompileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        lower_program(program(source))


def test_a_tool_table_is_one_call_node_naming_every_function_of_the_dict(program):
    """TOOLS[s["x"]](...): the dict's functions by `module:qualname` (the program's own file as
    source 0, another module by name), the key a plan expression over the generated value."""
    graph = lower_program(program(HELPERS + '''
@lmc.program
def p(s, question: str):
    s += lmc.gen("x", max_tokens=1)
    s += TOOLS[s["x"]](question)
'''))
    (call,) = calls(graph)
    stem = graph.sources[0].path.rsplit("/", 1)[-1].removesuffix(".py")
    assert call.function == f"{stem}:TOOLS" and call.table == (("calc", f"{stem}:calculate", 0), ("exp", "math:exp", None))
    assert call.key == Var(Name("s"), Const("x")) and call.positional == (Name("question"),)


def test_a_function_from_an_enclosing_function_cannot_be_named(tmp_path):
    import lmc

    def local_helper(x):
        return x

    @lmc.program
    def p(s, question: str):
        s += local_helper(question)

    with pytest.raises(CompileError, match="enclosing function"):
        lower_program(p)


def test_a_call_in_a_returned_value_runs_after_the_body(program):
    """In the program's `return` and in an inlined program's: the call follows the statements
    whose locals it reads."""
    prog = program(HELPERS + '''
@lmc.program
def inner(s, q: str):
    tail = q + "?"
    s += tail + lmc.gen("a", max_tokens=2)
    return {"rendered": render(tail, [])}


@lmc.program
def outer(s, question: str):
    result = inner(s, question)
    return {"inner": result, "outer": render(question, ["!"])}
''')
    graph = lower_program(prog)
    kinds = [graph.node(i).kind for i, _, _, _ in graph.walk()]
    assert kinds[-1] == "return" and kinds.count("call") == 2
    assert kinds.index("call") > kinds.index("gen")  # inner's call after inner's body
    assert kinds[-2] == "call"  # outer's call just before the return that reads it


def test_explain_draws_call_nodes_distinctly(program):
    from lmc.compiler.explain.dot import to_dot
    from lmc.compiler.explain.tree import stats_line
    from lmc.plan.file import Plan

    graph = lower_program(program(HELPERS + '''
@lmc.program
def p(s, question: str):
    s += question + lmc.gen("expression", max_tokens=4)
    s += " = " + calculate(s["expression"])
'''))
    dot = to_dot(graph)
    call_lines = [line for line in dot.splitlines() if 'class="step call"' in line]
    assert len(call_lines) == 1 and "shape=component" in call_lines[0] and ":calculate(s['expression'])" in call_lines[0]
    assert "host call (Python, run by the executor)" in dot  # its legend entry
    assert dot.count('style=dashed, color="#cc3333"') >= 3  # gen -> call -> the text reading its result, + legend
    assert "1 host call" in stats_line(Plan(graph))


def test_a_method_of_a_global_that_is_data_stays_a_plan_method(program):
    graph = lower_program(program(HELPERS + '''
SEPARATOR = ", "


@lmc.program
def p(s, options: list):
    s += SEPARATOR.join(options) + lmc.gen("a", max_tokens=2)
'''))
    assert calls(graph) == []
    assert unparse(next(n for _, n in graph.nodes_of(Text)).value) == "', '.join(options)"
