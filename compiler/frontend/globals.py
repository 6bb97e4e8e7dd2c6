"""What a global name inside a program may be: a constant, an allowed builtin, a primitive, a
program to inline, or a module to look into. Anything else is a compile error."""

from __future__ import annotations

import builtins
import json
import math
import types
from typing import Any

from lmc.plan.expr.builtins import FUNCTIONS
from lmc.plan.language import PRIMITIVES

BUILTIN_NAMES: dict[int, str] = {id(getattr(builtins, n)): n for n in FUNCTIONS if hasattr(builtins, n)}
BUILTIN_NAMES[id(json.dumps)] = "json.dumps"
BUILTIN_NAMES[id(json.loads)] = "json.loads"
IO_FUNCTIONS = frozenset({"print", "open", "input", "eval", "exec", "compile", "__import__",
                          "breakpoint", "exit", "quit", "help", "globals", "locals", "vars",
                          "setattr", "delattr", "getattr"})
MUTATING_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "sort", "reverse",
                              "clear", "update", "setdefault", "popitem", "add", "discard"})
ALLOWED_HINT = ("allowed: len, range, str, int, float, bool, list, tuple, dict, zip, enumerate, "
                "sorted, reversed, min, max, sum, abs, round, any, all, json.dumps, json.loads, "
                "str/list/dict methods that return a new value, and other @lmc.program functions")
STATE_METHODS_HINT = ("a state offers s += ..., s[name], s.json(name), s.text(), forks = s.fork(n), s.join(forks), "
                      "with s.user(): (any role), with s.var_scope(name):")


def builtin_name(obj: Any) -> str | None:
    """The allowed-function name of `obj` (by identity), e.g. `len`, `json.dumps`."""
    name = BUILTIN_NAMES.get(id(obj))
    if name is None:
        return None
    target = json if name.startswith("json.") else builtins
    return name if getattr(target, name.split(".")[-1], None) is obj else None


def primitive_name(obj: Any) -> str | None:
    """`gen`, `select`, `system`, `user` or `assistant` if obj is that lmc primitive."""
    return next((name for fn, name in PRIMITIVES.items() if fn is obj), None)


IO_HINT = "do I/O outside the program: pass data in as inputs, and read results from its outputs"


def io_message(name: str) -> str:
    return f"`{name}(...)` cannot run inside an lmc program (it is compiled, not executed per row)"


def io_name(obj: Any) -> str | None:
    for name in IO_FUNCTIONS:
        if getattr(builtins, name, None) is obj:
            return name
    return None


def json_constant(obj: Any) -> tuple[bool, Any]:
    """(True, value) if obj is JSON data (tuples become lists), else (False, None)."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return True, obj
    if isinstance(obj, float):
        return (True, obj) if math.isfinite(obj) else (False, None)
    if isinstance(obj, (list, tuple)):
        items = [json_constant(x) for x in obj]
        return (True, [v for _, v in items]) if all(ok for ok, _ in items) else (False, None)
    if isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        items = {k: json_constant(v) for k, v in obj.items()}
        if all(ok for ok, _ in items.values()):
            return True, {k: v for k, (_, v) in items.items()}
    return False, None


def is_module(obj: Any) -> bool:
    return isinstance(obj, types.ModuleType)


def describe(obj: Any) -> str:
    if is_module(obj):
        return f"the module {obj.__name__}"
    if callable(obj):
        return f"the function {getattr(obj, '__qualname__', obj)!s}"
    return f"a {type(obj).__name__}"
