"""The Python API's backend: a `Runtime` holds one engine, and programs run on the default one.

    lmc.set_default_backend(lmc.Runtime(model="path/to/model", device="cuda"))
    lmc.set_default_backend(lmc.OpenAI("tiny", base_url="http://127.0.0.1:30000/v1"))  # an endpoint
    state = my_program.run(question="...")

Without a default, the first `run`/`run_batch` starts `Runtime()` (the default model,
SmolLM2-135M-Instruct, on CPU; fetched on first use).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lmc.runtime.config import DEFAULT_MODEL, EngineConfig
from lmc.runtime.engine import Engine


class Runtime:
    """An engine for programs run from Python; `engine_options` are EngineConfig fields."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", **engine_options: Any) -> None:
        known = {f.name for f in fields(EngineConfig)} - {"model", "device"}
        unknown = sorted(set(engine_options) - known)
        if unknown:
            raise TypeError(f"unknown engine option {unknown[0]!r}; the options are: {', '.join(sorted(known))}")
        self.config = EngineConfig(model=model, device=device, **engine_options)
        self.engine = Engine(self.config)

    def __repr__(self) -> str:
        return f"Runtime(model={self.config.model!r}, device={self.config.device!r})"


_default: Any = None


def set_default_backend(runtime: Any) -> None:
    """Run every program on `runtime` (an `lmc.Runtime` or an `lmc.OpenAI` endpoint) from now on."""
    from lmc.runtime.openai_backend import OpenAI

    global _default
    if not isinstance(runtime, (Runtime, OpenAI)):
        raise TypeError(f"set_default_backend takes an lmc.Runtime or lmc.OpenAI, got {type(runtime).__name__}")
    _default = runtime


def default_backend() -> Any:
    """The runtime programs run on, started with the default model on first use if none was set."""
    global _default
    if _default is None:
        _default = Runtime()
    return _default
