"""Every construct the compiler cannot analyse is an error at file:line:col with a caret and help."""

from __future__ import annotations

import re

import pytest

import lmc
from lmc.compiler.frontend import lower_program
from lmc.plan.errors import CompileError

# (name, body lines of `def p(s, question, n: int)`, the text the caret must point at, message part)
CASES = [
    ("recursion", ["s += 'x'", "p(s, question, n)"], "p(s, question, n)", "recursive program call"),
    ("while over inputs", ["while n > 0:", "    s += 'x'"], "while n > 0:", "`while` loop over values known"),
    ("print", ["print(question)"], "print(question)", "`print(...)` cannot run"),
    ("print, reported first", ["x = s.get_meta_info('a')", "print(x)"], "print(x)", "`print(...)` cannot run"),
    ("open", ["s += open('f.txt').read()"], "open('f.txt')", "`open(...)` cannot run"),
    ("global statement", ["global COUNT", "s += 'x'"], "global COUNT", "mutate module state"),
    ("global mutation", ["CACHE['k'] = question"], "CACHE['k']", "mutates the global `CACHE`"),
    ("state passed to a function in an expression", ["x = len(helper(s))"], "helper(s)", "inside an expression"),
    ("state in a container", ["states = [s]"], "s]", "stored in a container"),
    ("unknown variable", ["s += s['nope']"], "s['nope']", "no gen or select in this program stores `nope`"),
    ("read before gen", ["s += s['answer']", "s += lmc.gen('answer')"], "s['answer']", "before it is generated"),
    ("lambda", ["f = lambda: s"], "lambda: s", "lambda cannot be analysed"),
    ("yield", ["yield s"], "yield s", "cannot `yield`"),
    ("try", ["try:", "    s += lmc.gen('a')", "except Exception:", "    pass"], "try:", "try/except"),
    ("starred fork", ["a, *rest = s.fork(3)"], "*rest", "starred unpacking of forks"),
    ("two constraints", ["s += lmc.gen('a', regex='[0-9]', choices=['1'])"], "lmc.gen(", "has 2 constraints"),
    ("max_tokens", ["s += lmc.gen('a', max_tokens=-1)"], "lmc.gen(", "max_tokens must be an int >= 0"),
    ("bad dtype", ["s += lmc.gen('a', dtype=list)"], "lmc.gen(", "dtype must be int, float, bool or str"),
    ("bad regex", ["s += lmc.gen('a', regex='[0-')"], "lmc.gen(", "is not valid"),
    ("gen not appended", ["x = lmc.gen('a')"], "lmc.gen('a')", "must be appended to a state"),
    ("with", ["with range(3) as fh:", "    s += 'x'"], "with range(3) as fh:", "`with` blocks"),
    ("import", ["import os", "s += 'x'"], "import os", "imports cannot run"),
    ("early return", ["if n:", "    return {}", "s += 'x'"], "return {}", "only as the last statement"),
    ("nested def", ["def inner():", "    pass"], "def inner():", "function defined inside a program"),
    ("generated gen name", ["s += lmc.gen('a')", "s += lmc.gen(s['a'])"], "s['a']", "must be known before the run"),
    ("generated fork size", ["s += lmc.gen('k')", "fs = s.fork(int(s['k']))"], "int(s['k'])", "number of branches"),
    ("state method", ["s.send('x')"], "s.send('x')", "a state has no method `send`"),
    ("state minus", ["s -= 'x'"], "s -= 'x'", "only supports +="),
    ("list append on an input", ["xs = question", "xs.append('a')"], "xs.append('a')", "not this program's own"),
    ("list append on a global", ["CACHE.append(question)"], "CACHE.append(question)", "mutates a value in place"),
    ("rebind state", ["s = 'text'"], "s", "cannot be rebound"),
    ("gen in f-string", ["s += f\"{lmc.gen('a')}\""], "lmc.gen('a')", "can only be combined with `+`"),
    ("nested roles", ["s += lmc.user(lmc.assistant('x'))"], "lmc.assistant('x')", "roles do not nest"),
    ("host call in a comprehension", ["s += ''.join(helper(q) for q in [question])"], "helper(q)",
     "inside a comprehension"),
    ("read before assignment", ["s += x", "x = 'a'"], "x", "read before it is assigned"),
    ("assert", ["assert n > 0"], "assert n > 0", "`assert` cannot be compiled"),
    ("append a number", ["s += 42"], "42", "only text can be appended"),
    ("call an undefined name", ["s += shout(question)"], "shout", "name `shout` is not defined"),
    ("call a local value", ["f = question", "s += f(question)"], "f(question)", "`f` is a local value"),
]

HEADER = """\
import lmc

COUNT = 0
CACHE = {}


def helper(x):
    return x


@lmc.program
def p(s, question: str, n: int):
"""


@pytest.mark.parametrize(("name", "body", "marker", "message"), CASES, ids=[c[0] for c in CASES])
def test_unsupported_construct_is_a_located_error(tmp_path, name, body, marker, message):
    source = HEADER + "".join(f"    {line}\n" for line in body)
    path = tmp_path / "bad_program.py"
    path.write_text(source)
    from lmc.compiler.loader import load_programs

    prog = load_programs(path)["p"]
    with pytest.raises(CompileError) as info:
        lower_program(prog) if name != "bad regex" else lmc.compile(prog)
    err = info.value
    lines = source.splitlines()
    line_no = next(i for i, text in enumerate(lines, 1) if i > 12 and marker in text)
    assert err.location is not None
    assert (err.location.path, err.location.line) == (str(path.resolve()), line_no)
    assert err.location.col == lines[line_no - 1].index(marker)
    assert message in err.message
    text = str(err)
    assert text.startswith(f"{path.resolve()}:{line_no}:{err.location.col + 1}: error: ")
    quoted, caret = text.splitlines()[1:3]
    assert quoted.strip() == lines[line_no - 1].strip()
    assert re.fullmatch(r" +\^+", caret) and caret.index("^") == 4 + err.location.col
    assert "help:" in text or name in ("two constraints", "max_tokens", "bad dtype", "bad regex", "lambda", "rebind state")


def test_at_least_ten_distinct_constructs():
    assert len({c[3] for c in CASES}) >= 10


def test_module_that_fails_to_import_is_a_compile_error(tmp_path):
    from lmc.compiler.loader import load_programs

    bad = tmp_path / "broken.py"
    bad.write_text("import lmc\n\nx = (1,\n")
    with pytest.raises(CompileError) as info:
        load_programs(bad)
    assert str(info.value).startswith(f"{bad.resolve()}:3:") and "syntax error" in str(info.value)
    bad.write_text("import lmc\nraise RuntimeError('boom')\n")
    with pytest.raises(CompileError, match="importing .* failed: RuntimeError: boom"):
        load_programs(bad)


def test_async_program_is_rejected(program):
    prog = program(
        """
        @lmc.program
        async def p(s):
            s += "x"
        """
    )
    with pytest.raises(CompileError, match="cannot be `async def`"):
        lower_program(prog)


def test_program_call_outside_a_program_teaches_run():
    @lmc.program
    def p(s, q):
        s += q

    with pytest.raises(TypeError, match=r"p\.run\(\*\*inputs\)"):
        p(None, "x")
