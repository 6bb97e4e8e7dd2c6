"""The public primitives of the lmc language (`lmc.gen`, `lmc.select`, roles; `lmc.program`).

A program body is never executed: the frontend reads its source. The primitives therefore act as
*validators*: the frontend calls `gen(...)`/`select(...)` with the constant arguments it finds, so
a bad argument is reported at compile time with its source location, and the executor calls them
again per row for arguments that depend on inputs. They return plain frozen dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lmc.plan import arguments
from lmc.plan.errors import LanguageError
from lmc.plan.sampling import SamplingParams

ROLES = ("system", "user", "assistant")
CONSTRAINT_ARGS = ("regex", "json_schema", "grammar", "choices", "dtype")


@dataclass(frozen=True)
class GenCall:
    """A validated `lmc.gen(...)`: its sampling record (no seed: the executor derives one per
    row and op) plus at most one constraint."""

    name: str
    sampling: SamplingParams = SamplingParams()
    regex: str | None = None
    json_schema: str | None = None  # canonical JSON text (sorted keys)
    grammar: str | None = None  # inline lark text, or a file name in grammars/
    choices: tuple[str, ...] | None = None
    dtype: str | None = None  # "int" | "float" | "bool" | "str"

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
    arguments.check_name(name, "lmc.gen")
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
    if arguments.number(temperature, "temperature") < 0:
        raise LanguageError(f"temperature must be >= 0, got {temperature!r}")
    if not 0 < arguments.number(top_p, "top_p") <= 1:
        raise LanguageError(f"top_p must be in (0, 1], got {top_p!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k == 0 or top_k < -1:
        raise LanguageError(f"top_k must be -1 (off) or an int >= 1, got {top_k!r}")
    if not 0 <= arguments.number(min_p, "min_p") <= 1:
        raise LanguageError(f"min_p must be in [0, 1], got {min_p!r}")
    for arg, value in (("frequency_penalty", frequency_penalty), ("presence_penalty", presence_penalty)):
        if not -2 <= arguments.number(value, arg) <= 2:
            raise LanguageError(f"{arg} must be in [-2, 2], got {value!r}")
    if not isinstance(ignore_eos, bool):
        raise LanguageError(f"ignore_eos must be True or False, got {ignore_eos!r}")
    sampling = SamplingParams(
        max_tokens=max_tokens,
        stop=() if stop is None else arguments.strings(stop, "stop", allow_single=True),
        stop_token_ids=ids,
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=top_k,
        min_p=float(min_p),
        frequency_penalty=float(frequency_penalty),
        presence_penalty=float(presence_penalty),
        ignore_eos=ignore_eos,
    )
    return GenCall(
        name=name,
        sampling=sampling,
        regex=None if regex is None else arguments.check_regex(regex),
        json_schema=None if json_schema is None else arguments.check_json_schema(json_schema),
        grammar=None if grammar is None else arguments.check_grammar(grammar),
        choices=None if choices is None else arguments.check_choices(choices, "choices"),
        dtype=None if dtype is None else arguments.check_dtype(dtype),
    )


def gen_int(name: str, **kwargs: Any) -> GenCall:
    """SGLang's `gen_int`: a gen constrained to an int literal (`dtype=int`)."""
    return gen(name, dtype="int", **kwargs)


def gen_string(name: str, **kwargs: Any) -> GenCall:
    """SGLang's `gen_string`: a gen constrained to a quoted JSON string (`dtype=str`)."""
    return gen(name, dtype="str", **kwargs)


def select(name: str, choices: list[str]) -> SelectCall:
    """Pick one of `choices` by length-normalized log-probability given the prompt."""
    arguments.check_name(name, "lmc.select")
    return SelectCall(name, arguments.check_choices(choices, "choices"))


def _role(role: str) -> Callable[..., RoleCall]:
    def wrap(content: Any = None) -> RoleCall:
        return RoleCall(role, content)

    wrap.__name__ = wrap.__qualname__ = role
    wrap.__doc__ = (f"Wrap text and gens in the model's chat template for the {role!r} role; with no "
                    "argument, an empty turn (SGLang's begin and end markers with nothing between).")
    return wrap


@dataclass(frozen=True)
class RoleMarker:
    role: str
    begin: bool


def _marker(role: str, begin: bool) -> Callable[[], RoleMarker]:
    def mark() -> RoleMarker:
        return RoleMarker(role, begin)

    mark.__name__ = mark.__qualname__ = f"{role}_{'begin' if begin else 'end'}"
    mark.__doc__ = (f"SGLang's `{mark.__name__}()`: the template text that {'opens' if begin else 'closes'} "
                    f"a {role!r} turn, for content appended in between.")
    return mark


system = _role("system")
user = _role("user")
assistant = _role("assistant")
system_begin, system_end = _marker("system", True), _marker("system", False)
user_begin, user_end = _marker("user", True), _marker("user", False)
assistant_begin, assistant_end = _marker("assistant", True), _marker("assistant", False)
ROLE_MARKERS: dict[Callable[[], RoleMarker], RoleMarker] = {
    fn: fn() for fn in (system_begin, system_end, user_begin, user_end, assistant_begin, assistant_end)
}
PRIMITIVES: dict[Callable[..., Any], str] = {
    gen: "gen", gen_int: "gen_int", gen_string: "gen_string", select: "select",
    system: "system", user: "user", assistant: "assistant",
    **{fn: fn.__name__ for fn in ROLE_MARKERS},
}

__all__ = [
    "CONSTRAINT_ARGS", "PRIMITIVES", "ROLES", "ROLE_MARKERS", "GenCall", "RoleCall", "RoleMarker",
    "SelectCall", "assistant", "assistant_begin", "assistant_end", "gen", "gen_int", "gen_string",
    "select", "system", "system_begin", "system_end", "user", "user_begin", "user_end",
]
