"""The plan's expression language agrees with Python itself, for values hypothesis picks.

Each expression is compiled inside a program (`s += str(<expr>)`), instantiated for a row, and
the resulting text compared with `str(eval(<expr>))` over the same inputs. A failing Python
evaluation must be a failing row (RowError), never a different value.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.compiler.frontend import lower_program
from lmc.compiler.loader import load_programs
from lmc.plan.errors import RowError
from lmc.plan.expr import (
    BinOp,
    Call,
    Comp,
    CompFor,
    Const,
    Format,
    FString,
    Name,
    Ref,
    Var,
    evaluate,
    from_json,
    reduce,
    to_json,
    unparse,
)
from lmc.plan.expr.evaluate import Scope
from lmc.plan.instantiate import TextOp, instantiate

EXPRESSIONS = [
    "a + b",
    'f"{a}-{n:03d}|{b!r}"',
    "a.upper() + b.strip()",
    '", ".join(xs)',
    "len(xs) * n",
    'xs[0] if xs else "none"',
    "[x.lower() for x in xs if x]",
    "{k: len(k) for k in xs}",
    "a[1:3] + b[::-1]",
    "n // 3 + n % 3",
    "sorted(xs, reverse=True)",
    "list(zip(xs, range(len(xs))))",
    "[i for i, x in enumerate(xs) if len(x) > n % 3]",
    "a in b and not n > 5 or len(a) == 0",
    "max([n, len(a), 1])",
    'a.replace("a", "b").split("b")',
    'json.dumps({"a": a, "n": n})',
    '"x" * (n % 4)',
    "a if n > 0 else b",
    "sum(len(x) for x in xs)",
    "1 < n <= 10",
    "a.startswith(b)",
    "xs[n]",
    "10 // n",
    "[x + y for x in xs for y in xs[:2]]",
    "int(b) + n",
]

rows = st.fixed_dictionaries({
    "a": st.text(alphabet="abAB -", max_size=6),
    "b": st.text(alphabet="ab 12", max_size=5),
    "n": st.integers(-3, 12),
    "xs": st.lists(st.text(alphabet="aBc", max_size=3), max_size=4),
})
_DIR = Path(tempfile.mkdtemp(prefix="lmc_expr_"))


@cache
def _program(index: int):
    path = _DIR / f"expr_{index}.py"
    path.write_text(
        "import json\nimport lmc\n\n\n@lmc.program\n"
        f"def p(s, a: str, b: str, n: int, xs: list):\n    s += str({EXPRESSIONS[index]})\n"
    )
    return lower_program(load_programs(path)["p"])


@pytest.mark.parametrize("index", range(len(EXPRESSIONS)), ids=EXPRESSIONS)
@settings(max_examples=40, deadline=None)
@given(row=rows)
def test_expression_agrees_with_python(index, row):
    graph = _program(index)
    try:
        expected = str(eval(EXPRESSIONS[index], {"json": json, **row}))  # Python is the reference
    except (TypeError, ValueError, IndexError, ZeroDivisionError, KeyError):
        with pytest.raises(RowError):
            instantiate(graph, row)
        return
    ops = instantiate(graph, row).ops
    assert [op.text for op in ops if isinstance(op, TextOp)] == [expected]


def test_partial_evaluation_leaves_only_refs_and_then_completes():
    expr = BinOp("+", Const("Scores: "), Call("str", (Var(Name("s"), Const("score")),)))
    residual = reduce(expr, Scope({"s": "S"}, read_var=lambda state, name, as_json: Ref(7)))
    assert residual == BinOp("+", Const("Scores: "), Call("str", (Ref(7),)))
    assert evaluate(residual, {}, read_ref=lambda op, as_json: {7: "5"}[op]) == "Scores: 5"


def test_comprehension_over_known_items_unrolls_into_refs():
    comp = Comp("gen", Var(Name("f"), Const("x")), (CompFor("f", Name("forks")),))
    residual = reduce(comp, Scope({"forks": [1, 2]}, read_var=lambda state, name, as_json: Ref(state * 10)))
    assert unparse(residual) == "[<value #10>, <value #20>]"


def test_codec_round_trips_every_node_kind():
    expr = FString((Const("a{b}"), Format(Name("x"), "r", Const(">4")),
                    Format(Comp("list", Name("y"), (CompFor(("y", "z"), Name("ys"), (Name("z"),)),)))))
    data = json.loads(json.dumps(to_json(expr)))
    assert from_json(data) == expr
    assert unparse(expr) == "f'a{{b}}{x!r:>4}{[y for (y, z) in ys if z]}'"
