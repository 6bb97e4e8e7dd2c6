"""The public API: `@lmc.program`, `lmc.compile` and running programs from Python.

The one module that knows both sides: it compiles with `lmc.compiler` and runs the plan with
`lmc.runtime`, which never import each other (both import `lmc.plan`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from lmc.plan.file import Plan
from lmc.plan.options import CompileOptions
from lmc.plan.program import Program

_plans: weakref.WeakKeyDictionary[Program, Plan] = weakref.WeakKeyDictionary()


class RunnableProgram(Program):
    """What `@lmc.program` returns: the program as data, plus compile and run shortcuts."""

    def compile(self, options: CompileOptions | None = None) -> Plan:
        return compile(self, options)

    def run(self, stream: bool = False, **inputs: Any) -> Any:
        """Run one row; returns its finished state (`state["name"]`, `state.text()`). With
        `stream=True` it returns at once a state whose `text_iter(name)` yields the gens' text as
        it is generated."""
        if stream:
            from lmc.runtime.executor.streaming import StreamingState

            return StreamingState(plan_of(self), inputs, None)
        return run_batch(self, [inputs], progress=False)[0]

    def run_batch(self, rows: Iterable[dict[str, Any]], progress: bool = True) -> list[Any]:
        """Run many rows together (prefixes shared, forks batched), results in input order."""
        return run_batch(self, rows, progress)


def compile(program: Program, options: CompileOptions | None = None, **overrides: Any) -> Plan:  # noqa: A001
    """`lmc.compile` (lmc.compiler.api.compile), importing the compiler on first use: a run that
    imports a program file for its host calls does not load it."""
    from lmc.compiler.api import compile as compile_program

    return compile_program(program, options, **overrides)


def program(fn: Callable[..., Any] | None = None, /, *, num_api_spec_tokens: int | None = None) -> Any:
    """Decorate an LM program: first parameter the state `s`, the others its inputs.

    `@program(num_api_spec_tokens=n)` is accepted as SGLang spells it; the knob asks an API
    backend to speculate n tokens, and lmc's own engine sees every gen's prompt anyway."""
    if num_api_spec_tokens is not None and (isinstance(num_api_spec_tokens, bool)
                                            or not isinstance(num_api_spec_tokens, int) or num_api_spec_tokens < 0):
        raise TypeError(f"num_api_spec_tokens must be an int >= 0, got {num_api_spec_tokens!r}")
    if fn is None:
        return RunnableProgram
    return RunnableProgram(fn)


function = program


def plan_of(program: Program | Plan) -> Plan:
    """A program's plan, compiled once per program object."""
    if isinstance(program, Plan):
        return program
    plan = _plans.get(program)
    if plan is None:
        plan = _plans[program] = compile(program)
    return plan


def run_batch(program: Program | Plan, rows: Iterable[dict[str, Any]], progress: bool = True,
              runtime: Any = None, options: Any = None) -> list[Any]:
    """Run `rows` through `program` on `runtime` (default: `lmc.runtime.api.default_backend()`);
    one `ProgramState` per row, in input order."""
    from lmc.runtime.executor import run_plan

    return run_plan(plan_of(program), list(rows), progress, runtime, options)


__all__ = ["RunnableProgram", "compile", "function", "plan_of", "program", "run_batch"]
