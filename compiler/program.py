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

    def run(self, stream: bool = False, **inputs: Any) -> Any:
        """Run one row and return its finished state; with `stream=True` return at once a state
        whose `text_iter(name)` yields the gens' text as it is generated."""
        if stream:
            from lmc.runtime.executor.streaming import StreamingState

            return StreamingState(self, inputs, None)
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


def program(fn: Callable[..., Any]) -> Program:
    """Decorate an LM program: first parameter the state `s`, the others its inputs."""
    return Program(fn)


function = program
