"""`lmc.compile(program)`: frontend, then passes, then a Plan."""

from __future__ import annotations

import time
from typing import Any

from lmc.compiler.frontend import lower_program
from lmc.compiler.passes import run_passes
from lmc.plan.file import Plan
from lmc.plan.options import CompileOptions
from lmc.plan.program import Program


def compile(program: Program, options: CompileOptions | None = None, **overrides: Any) -> Plan:  # noqa: A001
    """Compile an `@lmc.program` to a Plan; keyword overrides build the CompileOptions."""
    if not isinstance(program, Program):
        raise TypeError(f"lmc.compile takes an @lmc.program, got {type(program).__name__}")
    if options is None:
        options = CompileOptions(**overrides)
    elif overrides:
        raise TypeError("pass either options= or keyword overrides, not both")
    start = time.perf_counter()
    graph = run_passes(lower_program(program), options)
    return Plan(graph, options, compile_seconds=time.perf_counter() - start)
