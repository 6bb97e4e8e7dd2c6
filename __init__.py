"""lmc: an ahead-of-time compiler and runtime for LM programs.

The public API is imported lazily so that `import lmc` (and the compiler, which knows no tensors)
stays fast and does not pull in torch until a runtime object is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # the language (plan/language.py) and the API (api.py)
    "program": "lmc.api",
    "function": "lmc.api",
    "compile": "lmc.api",
    "gen": "lmc.plan.language",
    "gen_int": "lmc.plan.language",
    "gen_string": "lmc.plan.language",
    "select": "lmc.plan.language",
    "system": "lmc.plan.language",
    "user": "lmc.plan.language",
    "assistant": "lmc.plan.language",
    "image": "lmc.plan.language",
    "video": "lmc.plan.language",
    "token_length_normalized": "lmc.plan.choices",
    "greedy_token_selection": "lmc.plan.choices",
    "unconditional_likelihood_normalized": "lmc.plan.choices",
    **{f"{role}_{edge}": "lmc.plan.language" for role in ("system", "user", "assistant") for edge in ("begin", "end")},
    "Plan": "lmc.plan.file",
    "CompileOptions": "lmc.plan.options",
    # runtime
    "Runtime": "lmc.runtime.api",
    "set_default_backend": "lmc.runtime.api",
    "OpenAI": "lmc.runtime.openai_backend",
    "Engine": "lmc.runtime.engine",
    "EngineConfig": "lmc.runtime.config",
    "SamplingParams": "lmc.runtime.request",
    "Request": "lmc.runtime.request",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lmc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
