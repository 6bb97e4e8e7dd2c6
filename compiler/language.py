"""The public primitives of the lmc language (`lmc.program`, `lmc.gen`, `lmc.select`, roles).

A program body is never executed: the frontend reads its source. The primitives therefore act as
*validators*: the frontend calls `gen(...)`/`select(...)` with the constant arguments it finds, so
a bad argument is reported at compile time with its source location, and the executor calls them
again per row for arguments that depend on inputs. They return plain frozen dataclasses.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmc.compiler.errors import LanguageError

if TYPE_CHECKING:
    from lmc.compiler.options import CompileOptions
    from lmc.compiler.plan import Plan

GRAMMAR_DIR = Path(__file__).resolve().parent.parent / "grammars"
ROLES = ("system", "user", "assistant")
CONSTRAINT_ARGS = ("regex", "json_schema", "grammar", "choices", "dtype")
DTYPES = ("int", "float", "bool")  # `dtype=` shorthands; lmc.grammars turns them into regexes


@dataclass(frozen=True)
class GenCall:
    """A validated `lmc.gen(...)`: sampling knobs plus at most one constraint."""

    name: str
    max_tokens: int = 128
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    ignore_eos: bool = False
    regex: str | None = None
    json_schema: str | None = None  # canonical JSON text (sorted keys)
    grammar: str | None = None  # inline lark text, or a file name in grammars/
    choices: tuple[str, ...] | None = None
    dtype: str | None = None  # "int" | "float" | "bool"

    def constraint(self) -> tuple[str, str] | None:
        """(kind, source) of the constraint: kind is regex, dtype, json_schema, grammar or choices
        (choices as JSON text of the list)."""
        if self.regex is not None:
            return ("regex", self.regex)
        if self.dtype is not None:
            return ("dtype", self.dtype)
        if self.json_schema is not None:
            return ("json_schema", self.json_schema)
        if self.grammar is not None:
            return ("grammar", self.grammar)
        if self.choices is not None:
            return ("choices", json.dumps(list(self.choices), ensure_ascii=False))
        return None


@dataclass(frozen=True)
class SelectCall:
    """A validated `lmc.select(...)`: choices ranked by length-normalized log-probability."""

    name: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class RoleCall:
    role: str
    content: Any


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise LanguageError(f"{what} needs a non-empty str name as its first argument, got {name!r}")
    return name


def _number(value: Any, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LanguageError(f"{arg} must be a finite number, got {value!r}")
    return float(value)


def _strings(value: Any, arg: str, allow_single: bool) -> tuple[str, ...]:
    if allow_single and isinstance(value, str):
        value = [value]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise LanguageError(f"{arg} must be a list of str, got {value!r}")
    items = tuple(value)
    if not all(isinstance(v, str) and v for v in items):
        raise LanguageError(f"{arg} must hold non-empty str values, got {list(items)!r}")
    return items


def _check_regex(pattern: Any) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise LanguageError(f"regex must be a non-empty str, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise LanguageError(f"regex {pattern!r} is not valid{where}: {exc.msg}") from None
    return pattern


def _check_json_schema(schema: Any) -> str:
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise LanguageError(f"json_schema text is not JSON: {exc}") from None
    if not isinstance(schema, (dict, bool)):
        raise LanguageError(f"json_schema must be a dict (or its JSON text), got {type(schema).__name__}")
    try:
        import jsonschema
    except ImportError:  # jsonschema is a runtime dependency; without it only the shape is checked
        jsonschema = None
    if jsonschema is not None:
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise LanguageError(f"json_schema is not a valid JSON Schema: {exc.message}") from None
    return json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _check_grammar(grammar: Any) -> str:
    if not isinstance(grammar, str) or not grammar.strip():
        raise LanguageError(f"grammar must be lark text or a file name in grammars/, got {grammar!r}")
    if "\n" not in grammar and grammar.endswith(".lark"):
        if not (GRAMMAR_DIR / grammar).is_file():
            known = sorted(p.name for p in GRAMMAR_DIR.glob("*.lark"))
            raise LanguageError(f"grammar file {grammar!r} is not in grammars/ (found: {known})")
        return grammar
    import lark

    try:
        lark.Lark(grammar, parser="lalr")
    except lark.exceptions.LarkError as exc:
        raise LanguageError(f"grammar is not a valid lark LALR grammar: {str(exc).strip()}") from None
    return grammar


def _check_dtype(dtype: Any) -> str:
    name = {int: "int", float: "float", bool: "bool"}.get(dtype, dtype)
    if name not in DTYPES:
        raise LanguageError(f"dtype must be int, float or bool, got {dtype!r}")
    return name


def gen(
    name: str,
    max_tokens: int = 128,
    stop: str | list[str] | None = None,
    stop_token_ids: list[int] | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = -1,
    min_p: float = 0.0,
    frequency_penalty: float = 0.0,
    presence_penalty: float = 0.0,
    ignore_eos: bool = False,
    regex: str | None = None,
    json_schema: dict[str, Any] | str | None = None,
    grammar: str | None = None,
    choices: list[str] | None = None,
    dtype: type | str | None = None,
) -> GenCall:
    """Generate text stored under `name`; every argument is checked here, with a message."""
    _check_name(name, "lmc.gen")
    given = [a for a, v in zip(CONSTRAINT_ARGS, (regex, json_schema, grammar, choices, dtype)) if v is not None]
    if len(given) > 1:
        raise LanguageError(
            f"lmc.gen({name!r}) has {len(given)} constraints ({', '.join(a + '=' for a in given)}); "
            "a gen takes at most one of regex=, json_schema=, grammar=, choices=, dtype="
        )
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise LanguageError(f"max_tokens must be an int > 0, got {max_tokens!r}")
    ids = () if stop_token_ids is None else tuple(stop_token_ids) if isinstance(stop_token_ids, Iterable) else None
    if ids is None or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise LanguageError(f"stop_token_ids must be a list of token ids (ints >= 0), got {stop_token_ids!r}")
    if _number(temperature, "temperature") < 0:
        raise LanguageError(f"temperature must be >= 0, got {temperature!r}")
    if not 0 < _number(top_p, "top_p") <= 1:
        raise LanguageError(f"top_p must be in (0, 1], got {top_p!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k == 0 or top_k < -1:
        raise LanguageError(f"top_k must be -1 (off) or an int >= 1, got {top_k!r}")
    if not 0 <= _number(min_p, "min_p") <= 1:
        raise LanguageError(f"min_p must be in [0, 1], got {min_p!r}")
    for arg, value in (("frequency_penalty", frequency_penalty), ("presence_penalty", presence_penalty)):
        if not -2 <= _number(value, arg) <= 2:
            raise LanguageError(f"{arg} must be in [-2, 2], got {value!r}")
    if not isinstance(ignore_eos, bool):
        raise LanguageError(f"ignore_eos must be True or False, got {ignore_eos!r}")
    return GenCall(
        name=name,
        max_tokens=max_tokens,
        stop=() if stop is None else _strings(stop, "stop", allow_single=True),
        stop_token_ids=ids,
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=top_k,
        min_p=float(min_p),
        frequency_penalty=float(frequency_penalty),
        presence_penalty=float(presence_penalty),
        ignore_eos=ignore_eos,
        regex=None if regex is None else _check_regex(regex),
        json_schema=None if json_schema is None else _check_json_schema(json_schema),
        grammar=None if grammar is None else _check_grammar(grammar),
        choices=None if choices is None else _check_choices(choices, "choices"),
        dtype=None if dtype is None else _check_dtype(dtype),
    )


def _check_choices(choices: Any, arg: str) -> tuple[str, ...]:
    items = _strings(choices, arg, allow_single=False)
    if not items:
        raise LanguageError(f"{arg} must hold at least one choice")
    duplicates = sorted({c for c in items if items.count(c) > 1})
    if duplicates:
        raise LanguageError(f"{arg} has duplicates {duplicates}; each choice must be distinct")
    return items


def select(name: str, choices: list[str]) -> SelectCall:
    """Pick one of `choices` by length-normalized log-probability given the prompt."""
    _check_name(name, "lmc.select")
    return SelectCall(name, _check_choices(choices, "choices"))


def _role(role: str) -> Callable[[Any], RoleCall]:
    def wrap(content: Any) -> RoleCall:
        return RoleCall(role, content)

    wrap.__name__ = wrap.__qualname__ = role
    wrap.__doc__ = f"Wrap text and gens in the model's chat template for the {role!r} role."
    return wrap


system = _role("system")
user = _role("user")
assistant = _role("assistant")
PRIMITIVES: dict[Callable[..., Any], str] = {
    gen: "gen", select: "select", system: "system", user: "user", assistant: "assistant",
}


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


def program(fn: Callable[..., Any]) -> Program:
    """Decorate an LM program: first parameter the state `s`, the others its inputs."""
    return Program(fn)


function = program
