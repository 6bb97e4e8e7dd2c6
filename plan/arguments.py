"""Checks for the arguments of `lmc.gen` and `lmc.select`: each returns the normalized value or
raises LanguageError with a message that names the argument and what it accepts."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lmc.plan.errors import LanguageError

GRAMMAR_DIR = Path(__file__).resolve().parent.parent / "grammars"
DTYPES = ("int", "float", "bool", "str")  # `dtype=` shorthands; lmc.grammars turns them into regexes


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise LanguageError(f"{what} needs a non-empty str name as its first argument, got {name!r}")
    return name


def number(value: Any, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LanguageError(f"{arg} must be a finite number, got {value!r}")
    return float(value)


def strings(value: Any, arg: str, allow_single: bool) -> tuple[str, ...]:
    if allow_single and isinstance(value, str):
        value = [value]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise LanguageError(f"{arg} must be a list of str, got {value!r}")
    items = tuple(value)
    if not all(isinstance(v, str) and v for v in items):
        raise LanguageError(f"{arg} must hold non-empty str values, got {list(items)!r}")
    return items


def check_regex(pattern: Any) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise LanguageError(f"regex must be a non-empty str, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise LanguageError(f"regex {pattern!r} is not valid{where}: {exc.msg}") from None
    return pattern


def check_json_schema(schema: Any) -> str:
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


def check_grammar(grammar: Any) -> str:
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


def check_dtype(dtype: Any) -> str:
    name = {int: "int", float: "float", bool: "bool", str: "str"}.get(dtype, dtype)
    if name not in DTYPES:
        raise LanguageError(f"dtype must be int, float, bool or str, got {dtype!r}")
    return name


def check_choices(choices: Any, arg: str) -> tuple[str, ...]:
    items = strings(choices, arg, allow_single=False)
    if not items:
        raise LanguageError(f"{arg} must hold at least one choice")
    duplicates = sorted({c for c in items if items.count(c) > 1})
    if duplicates:
        raise LanguageError(f"{arg} has duplicates {duplicates}; each choice must be distinct")
    return items
