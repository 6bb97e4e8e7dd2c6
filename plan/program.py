"""A program as data: the decorated function and its name, which the compiler reads.

`lmc.program` (lmc/api.py) returns a subclass that can also compile and run itself; this class
knows neither the compiler nor the runtime, so every layer can recognise a program.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


class Program:
    """A function decorated with `@lmc.program`; its body is read from source, never called."""

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
