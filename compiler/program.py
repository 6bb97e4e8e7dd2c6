"""`@lmc.program`: a function whose source the compiler reads and the executor runs per row."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmc.compiler.options import CompileOptions
    from lmc.compiler.plan import Plan


class Program:
    """A function decorated with `@lmc.program`: compiled from its source, run by the executor."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not inspect.isfunction(fn):
            raise TypeError(f"@lmc.program decorates a function, got {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name: str = fn.__name__

    def __repr__(self) -> str:
        return f"<lmc.program {self.name} of {inspect.getsourcefile(self.fn)}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{self.name}(...) runs only inside another program (it is inlined there); "
            f"to run it, use {self.name}.run(**inputs) or {self.name}.run_batch(rows)"
        )

    def compile(self, options: CompileOptions | None = None) -> Plan:
        from lmc.compiler.api import compile as compile_program

        return compile_program(self, options)

    def run(self, **inputs: Any) -> Any:
        """Run one row; the executor decides what it returns (a finished state)."""
        return _executor().run_program(self, [inputs], progress=False)[0]

    def run_batch(self, rows: Iterable[dict[str, Any]], progress: bool = True) -> list[Any]:
        """Run many rows together (prefixes shared, forks batched), results in input order."""
        return _executor().run_program(self, list(rows), progress=progress)


def _executor() -> Any:
    try:
        from lmc.runtime import executor
    except ModuleNotFoundError as exc:
        if exc.name not in ("lmc.runtime.executor", "lmc.runtime"):
            raise
        raise ImportError(
            "running a program needs lmc.runtime.executor, which this installation does not have; "
            "lmc.compile(program) still works"
        ) from exc
    return executor


def program(fn: Callable[..., Any] | None = None, /, *, num_api_spec_tokens: int | None = None) -> Any:
    """Decorate an LM program: first parameter the state `s`, the others its inputs.

    `@program(num_api_spec_tokens=n)` is accepted as SGLang spells it; the knob asks an API
    backend to speculate n tokens, and lmc's own engine sees every gen's prompt anyway."""
    if num_api_spec_tokens is not None and (isinstance(num_api_spec_tokens, bool)
                                            or not isinstance(num_api_spec_tokens, int) or num_api_spec_tokens < 0):
        raise TypeError(f"num_api_spec_tokens must be an int >= 0, got {num_api_spec_tokens!r}")
    if fn is None:
        return Program
    return Program(fn)


function = program
