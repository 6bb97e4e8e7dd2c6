"""The functions and methods a program's expressions may call: pure, total on JSON-like values.

Anything not listed here is rejected by the frontend with a message naming this list, so a plan
can never reach I/O or mutate shared data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_SEQUENCE = 1_000_000  # a range() longer than this is surely a bug, not a program


def _range(*args: int) -> list[int]:
    r = range(*args)
    if len(r) > MAX_SEQUENCE:
        raise ValueError(f"range of {len(r)} items is longer than {MAX_SEQUENCE}")
    return list(r)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "range": _range,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "zip": lambda *xs: list(zip(*xs)),
    "enumerate": lambda xs, start=0: list(enumerate(xs, start)),
    "sorted": sorted,
    "reversed": lambda xs: list(reversed(xs)),
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "round": round,
    "any": any,
    "all": all,
    "repr": repr,
    "ord": ord,
    "chr": chr,
    "json.dumps": json.dumps,
    "json.loads": json.loads,
}

STR_METHODS = frozenset({
    "join", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "lower", "upper",
    "title", "capitalize", "replace", "startswith", "endswith", "format", "count", "find",
    "rfind", "index", "zfill", "removeprefix", "removesuffix", "isdigit", "isalpha", "isalnum",
    "isspace", "partition", "rpartition", "center", "ljust", "rjust",
})
LIST_METHODS = frozenset({"index", "count", "copy"})
DICT_METHODS = frozenset({"get", "keys", "values", "items", "copy"})
METHODS = STR_METHODS | LIST_METHODS | DICT_METHODS


def call_method(obj: Any, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call a whitelisted method; dict views become lists so values stay JSON-like."""
    allowed = (
        STR_METHODS if isinstance(obj, str)
        else LIST_METHODS if isinstance(obj, (list, tuple))
        else DICT_METHODS if isinstance(obj, dict)
        else frozenset()
    )
    if method not in allowed:
        raise ValueError(f"{type(obj).__name__} has no allowed method {method!r}")
    result = getattr(obj, method)(*args, **kwargs)
    if method in ("keys", "values", "items"):
        return list(result)
    return result
