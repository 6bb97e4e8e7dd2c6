"""The public API: `@lmc.program`, `lmc.compile` and running programs from Python.

The one module that knows both sides: it compiles with `lmc.compiler` and runs the plan with
`lmc.runtime`, which never import each other (both import `lmc.plan`).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from lmc.plan.file import Plan
from lmc.plan.options import CompileOptions
from lmc.plan.program import Program

_plans: weakref.WeakKeyDictionary[Program, Plan] = weakref.WeakKeyDictionary()


class RunnableProgram(Program):
    """What `@lmc.program` returns: the program as data, plus compile and run shortcuts.

    `run` and `run_batch` take SGLang's keywords: the sampling ones (`temperature`,
    `max_new_tokens`, `top_p`, `stop`, `n`, `return_logprob`, ...: `lmc.plan.language.RUN_KEYWORDS`)
    are the defaults of every gen that does not set that argument itself; only the keywords
    given count (lmc's own default stays greedy, SGLang's run() samples at temperature 1.0)."""

    bound: dict[str, Any]

    def __init__(self, fn: Callable[..., Any], bound: dict[str, Any] | None = None) -> None:
        super().__init__(fn)
        self.bound = dict(bound or {})

    def compile(self, options: CompileOptions | None = None) -> Plan:
        return compile(self, options)

    def bind(self, **inputs: Any) -> RunnableProgram:
        """SGLang's `bind`: the same program with some inputs fixed (a run may not override them)."""
        names = [p for p in inspect.signature(self.fn).parameters][1:]
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise TypeError(f"{self.name}() has no inputs {unknown}; its inputs are {names}")
        bound = RunnableProgram(self.fn, {**self.bound, **inputs})
        _plans[bound] = plan_of(self)
        return bound

    def run(self, *args: Any, stream: bool = False, backend: Any = None, use_thread: bool = True,
            **kwargs: Any) -> Any:
        """Run one row; returns its finished state (`state["name"]`, `state.text()`,
        `state.get_meta_info(name)`). With `stream=True` it returns at once a state whose
        `text_iter(name)` yields that gen's text as it is generated, `text_iter()` the whole text. `backend`: a `lmc.Runtime`
        (default: `lmc.set_default_backend`'s); `use_thread` is accepted for SGLang's sake."""
        inputs, options = self._split(args, kwargs)
        if stream:
            from lmc.runtime.executor.streaming import StreamingState

            return StreamingState(plan_of(self), inputs, backend, options)
        return run_batch(self, [inputs], progress=False, runtime=backend, options=options)[0]

    def run_batch(self, rows: Iterable[Any], progress: bool = True, *, progress_bar: bool | None = None,
                  num_threads: Any = "auto", backend: Any = None, generator_style: bool = False,
                  **sampling: Any) -> Any:
        """Run many rows together (prefixes shared, forks batched), results in input order. Rows
        are dicts of inputs or, as in SGLang, lists of positional inputs. `num_threads` is
        accepted and has nothing to set: every row shares one engine batch, not a thread each.
        `generator_style=True` returns an iterator over the results."""
        rows = [self._row(r) for r in rows]
        _, options = self._split((), sampling)
        states = run_batch(self, rows, progress if progress_bar is None else progress_bar, backend, options)
        return iter(states) if generator_style else states

    def trace(self, backend: Any = None, **inputs: Any) -> Any:
        """SGLang's `trace`: the program's prompt for these inputs without running it (lmc
        compiles ahead of time, so this is the plan's row, its gens as placeholders)."""
        from lmc.runtime.executor.trace import trace

        return trace(plan_of(self), {**inputs, **self.bound}, backend)

    def cache(self, backend: Any = None) -> int:
        """SGLang's `cache`: prefill the text every row starts with, so it is cached before the
        rows come; returns its token count. As in SGLang, a prefix of 64 characters or fewer
        is not prefilled (0 is returned), nor is none (the program starts with an input)."""
        from lmc.runtime.executor.trace import cache_prefix

        return cache_prefix(plan_of(self), backend)

    def _row(self, row: Any) -> dict[str, Any]:
        if isinstance(row, dict):
            return {**row, **self.bound}
        names = [p for p in inspect.signature(self.fn).parameters][1:]
        if not isinstance(row, (list, tuple)) or len(row) > len(names):
            raise TypeError(f"a row of {self.name}() is a dict of inputs or a list of at most {len(names)} values")
        return {**dict(zip(names, row)), **self.bound}

    def _split(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """(inputs, RunOptions) from run()'s arguments: sampling keywords become gen defaults."""
        from lmc.plan.language import RUN_KEYWORDS, run_defaults
        from lmc.runtime.executor.execute import RunOptions

        sampling = {k: kwargs.pop(k) for k in list(kwargs) if k in RUN_KEYWORDS}
        inputs = {**self._row(list(args)), **kwargs, **self.bound} if args else {**kwargs, **self.bound}
        defaults = tuple(sorted(run_defaults(sampling).items()))
        return inputs, RunOptions(keep_text=True, gen_defaults=defaults)


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
