"""Every example compiles, round-trips, validates, instantiates on its data, and the passes
change nothing a model would see: each gen's prompt and every output are the same with all
passes on as with all passes off."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import pytest

from lmc.compiler.api import compile as compile_program
from lmc.compiler.loader import load_programs
from lmc.plan.file import Plan, validate
from lmc.plan.instantiate import GenOp, Instantiator, RoleOp, SelectOp, TextOp
from lmc.plan.options import PASS_NAMES, CompileOptions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py") if p.stem != "make_data")
ROLES = {"system": ("<s>", "</s>\n"), "user": ("<u>", "</u>\n"), "assistant": ("<a>", "</a>\n")}


@cache
def _programs(name: str):
    return load_programs(EXAMPLES / f"{name}.py")


def _main(name: str):
    programs = _programs(name)
    return programs.get(name) or list(programs.values())[-1]


@cache
def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "data" / f"{name}.jsonl").read_text().splitlines()]


def test_there_are_at_least_eight_examples_with_data():
    assert len(NAMES) >= 8
    assert all((EXAMPLES / "data" / f"{n}.jsonl").exists() for n in NAMES)


def test_data_files_are_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("make_data", EXAMPLES / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.GENERATORS) == NAMES
    for name in NAMES:
        assert module.render(name) == (EXAMPLES / "data" / f"{name}.jsonl").read_text(), name


@pytest.mark.parametrize("name", NAMES)
def test_example_compiles_round_trips_and_validates(name):
    for prog in _programs(name).values():
        plan = compile_program(prog)
        text = plan.dumps()
        validate(json.loads(text))
        again = Plan.loads(text)
        assert again.dumps() == text
        assert compile_program(prog).dumps() == text  # deterministic


@pytest.mark.parametrize("name", NAMES)
def test_every_data_row_instantiates(name):
    inst = Instantiator(compile_program(_main(name)), ROLES)
    for row in _rows(name):
        program = inst.row(row, row["id"])
        assert program.start()


def simulate(plan: Plan, row: dict) -> tuple[list[tuple[str, int, str]], dict]:
    """Run a row with deterministic stand-in values; the prompt seen by every gen/select."""
    program = Instantiator(plan, ROLES).row(row)
    queue = list(program.start())
    seen = []
    while queue:
        op = queue.pop(0)
        if not isinstance(op, (GenOp, SelectOp)):
            continue
        history = program.history(op.state)
        prompt = "".join(program.text(h) if isinstance(h, TextOp) else program.values[h.id]
                         for h in history[:history.index(op)] if not isinstance(h, RoleOp))
        if isinstance(op, SelectOp):
            value = op.choices[(len(seen) * 7 + len(prompt)) % len(op.choices)]
        elif op.call.json_schema is not None:
            value = json.dumps({"name": "Ada", "age": 41, "city": "Oslo"})
        else:
            value = f"{op.name}:{op.state}:{len(seen)}"
        seen.append((op.name, op.state, prompt))
        queue.extend(program.record(op.id, value))
    return seen, program.outputs()


@pytest.mark.parametrize("name", NAMES)
def test_passes_do_not_change_prompts_or_outputs(name):
    prog = _main(name)
    optimized = compile_program(prog)
    plain = compile_program(prog, CompileOptions(disabled_passes=PASS_NAMES))
    assert plain.stats()["shared_prefixes"] == 0
    for row in _rows(name)[:6]:
        assert simulate(optimized, row) == simulate(plain, row)


@pytest.mark.parametrize("name", NAMES)
def test_hoisted_prefix_text_is_identical_for_all_sharers(name):
    plan = compile_program(_main(name))
    inst = Instantiator(plan, ROLES)
    rows_text: dict[str, set[str]] = {}
    for row in _rows(name):
        program = inst.row(row)
        program.start()
        texts: dict[tuple[str, int], str] = {}
        for op in program.ops:
            if isinstance(op, TextOp) and op.prefix:
                texts[(op.prefix, op.state)] = texts.get((op.prefix, op.state), "") + op.text
        for prefix in {p for p, _ in texts}:
            per_state = {t for (p, _), t in texts.items() if p == prefix}
            assert len(per_state) == 1, (prefix, per_state)  # same text on every branch
            rows_text.setdefault(prefix, set()).update(per_state)
    for prefix, texts in rows_text.items():
        node = plan.graph.node(prefix)
        if node.scope == "rows":
            assert len(texts) == 1  # same text in every row
