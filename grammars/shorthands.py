"""Regexes for the `dtype=` and `choices=` shorthands of `lmc.gen`.

The dtype regexes accept exactly what Python parses back (`int(s)`, `float(s)`, `s == "True"`),
in canonical form: no leading zeros or plus sign, so a model cannot wander into "0000001".
"""

from __future__ import annotations

import re

from lmc.grammars.errors import ConstraintError

INT_REGEX = r"-?(?:0|[1-9][0-9]*)"
FLOAT_REGEX = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
BOOL_REGEX = r"(?:True|False)"
STR_REGEX = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])*"'  # a JSON string literal (SGLang's dtype=str is a quoted string)

_DTYPES = {"int": INT_REGEX, "float": FLOAT_REGEX, "bool": BOOL_REGEX, "str": STR_REGEX}


def dtype_regex(dtype: object) -> str:
    """The regex for `dtype=int|float|bool|str` (the type or its name)."""
    name = dtype.__name__ if isinstance(dtype, type) else dtype
    if name not in _DTYPES:
        raise ConstraintError(f"dtype must be one of int, float, bool, str; got {dtype!r}")
    return _DTYPES[str(name)]


def choices_regex(choices: list[str] | tuple[str, ...]) -> str:
    """An alternation of the escaped choices; minimization turns it into a trie (shared
    prefixes become one path), so long choice lists cost what their distinct text costs."""
    if isinstance(choices, str) or not choices:
        raise ConstraintError("choices must be a non-empty list of strings")
    if not all(isinstance(c, str) for c in choices):
        raise ConstraintError(f"choices must all be strings; got {choices!r}")
    return "(?:" + "|".join(re.escape(c) for c in dict.fromkeys(choices)) + ")"
