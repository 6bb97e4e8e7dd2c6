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
from lmc.plan.choices import METHODS, ChoicesMethod, token_length_normalized
from lmc.plan.errors import LanguageError
from lmc.plan.sampling import SamplingParams

ROLES = ("system", "user", "video", "assistant")
CONSTRAINT_ARGS = ("regex", "json_schema", "grammar", "choices", "dtype")


@dataclass(frozen=True)
class GenCall:
    """A validated `lmc.gen(...)`: its sampling record (no seed: the executor derives one per
    row and op) plus at most one constraint.

    `n` > 1 asks for n completions (SGLang: the value is the list of them, the state goes on
    with the first). `logprobs` is what `s.get_meta_info(name)` reports beyond token counts."""

    name: str
    sampling: SamplingParams = SamplingParams()
    regex: str | None = None
    json_schema: str | None = None  # canonical JSON text (sorted keys)
    grammar: str | None = None  # inline lark text, or a file name in grammars/
    choices: tuple[str, ...] | None = None
    dtype: str | None = None  # "int" | "float" | "bool" | "str"
    n: int = 1
    logprobs: LogprobArgs | None = None

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
class LogprobArgs:
    """SGLang's `return_logprob=True` and its companions: the logprob of every output token,
    the `top` most likely tokens at each position, prompt tokens from `start` on (None: none),
    and each token's text beside its id when `text` is set."""

    top: int = 0
    start: int | None = None
    text: bool = False


@dataclass(frozen=True)
class SelectCall:
    """A validated `lmc.select(...)`: choices ranked by `method` (a `lmc.plan.choices` name)
    over their tokens' logprobs; temperature 0 keeps the best, more samples one."""

    name: str
    choices: tuple[str, ...]
    temperature: float = 0.0
    method: str = token_length_normalized.name


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
    min_tokens: int = 0,
    n: int = 1,
    return_logprob: bool | None = None,
    logprob_start_len: int | None = None,
    top_logprobs_num: int | None = None,
    return_text_in_logprobs: bool | None = None,
    choices_method: ChoicesMethod | str | None = None,
) -> GenCall:
    """Generate text stored under `name`; every argument is checked here, with a message.

    With `choices=`, SGLang decides by scoring, not by constrained decoding: such a gen is a
    `select` (the frontend compiles it as one; `as_select` gives its record)."""
    arguments.check_name(name, "lmc.gen")
    given = [a for a, v in zip(CONSTRAINT_ARGS, (regex, json_schema, grammar, choices, dtype)) if v is not None]
    if len(given) > 1:
        raise LanguageError(
            f"lmc.gen({name!r}) has {len(given)} constraints ({', '.join(a + '=' for a in given)}); "
            "a gen takes at most one of regex=, json_schema=, grammar=, choices=, dtype="
        )
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise LanguageError(f"max_tokens must be an int >= 0 (0: score the prompt, generate nothing), "
                            f"got {max_tokens!r}")
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
    if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or not 0 <= min_tokens <= max_tokens:
        raise LanguageError(f"min_tokens must be an int in [0, max_tokens={max_tokens}], got {min_tokens!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LanguageError(f"n must be an int >= 1, got {n!r}")
    if choices_method is not None and choices is None:
        raise LanguageError("choices_method= needs choices=[...] (it says how a choice is picked)")
    if choices_method is not None:
        check_method(choices_method)
    sampling = SamplingParams(
        max_tokens=max_tokens,
        min_tokens=min_tokens,
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
        n=n,
        logprobs=logprob_args(return_logprob, logprob_start_len, top_logprobs_num, return_text_in_logprobs),
    )


# SGLang's sampling keywords of `program.run(...)`/`run_batch(...)` -> the `gen` argument each
# one is the default of (for every gen that does not give that argument itself).
RUN_KEYWORDS = {
    "max_new_tokens": "max_tokens", "min_new_tokens": "min_tokens", "n": "n", "stop": "stop",
    "stop_token_ids": "stop_token_ids", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
    "min_p": "min_p", "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
    "ignore_eos": "ignore_eos", "return_logprob": "return_logprob", "logprob_start_len": "logprob_start_len",
    "top_logprobs_num": "top_logprobs_num", "return_text_in_logprobs": "return_text_in_logprobs",
}


def run_defaults(keywords: dict[str, Any]) -> dict[str, Any]:
    """The gen defaults of run-time sampling keywords (None values dropped, as SGLang treats
    them), checked as `lmc.gen` checks them."""
    unknown = sorted(set(keywords) - set(RUN_KEYWORDS))
    if unknown:
        raise LanguageError(f"unknown sampling keywords {unknown}; run() takes {', '.join(RUN_KEYWORDS)}")
    defaults = {RUN_KEYWORDS[k]: v for k, v in keywords.items() if v is not None}
    gen("run", **defaults)
    return defaults


def logprob_args(wanted: bool | None, start: int | None, top: int | None, text: bool | None) -> LogprobArgs | None:
    """SGLang's four logprob arguments, checked; None when `return_logprob` is not set (the
    others then do nothing, as in SGLang)."""
    for arg, value in (("return_logprob", wanted), ("return_text_in_logprobs", text)):
        if value is not None and not isinstance(value, bool):
            raise LanguageError(f"{arg} must be True or False, got {value!r}")
    for arg, value in (("logprob_start_len", start), ("top_logprobs_num", top)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise LanguageError(f"{arg} must be an int >= 0, got {value!r}")
    if not wanted:
        return None
    return LogprobArgs(top=top or 0, start=start, text=bool(text))


def check_method(method: Any) -> str:
    name = method.name if isinstance(method, ChoicesMethod) else method
    if name not in METHODS:
        raise LanguageError(f"choices_method must be one of lmc.{', lmc.'.join(METHODS)}, got {method!r}")
    return name


def as_select(call: GenCall, temperature: float | None = None, choices_method: Any = None) -> SelectCall:
    """SGLang's `gen(name, choices=[...])`: a select, at temperature 0 unless one is given."""
    assert call.choices is not None
    return select(call.name, list(call.choices), 0.0 if temperature is None else temperature,
                  choices_method or token_length_normalized)


def gen_int(name: str, **kwargs: Any) -> GenCall:
    """SGLang's `gen_int`: a gen constrained to an int literal (`dtype=int`)."""
    return gen(name, dtype="int", **kwargs)


def gen_string(name: str, **kwargs: Any) -> GenCall:
    """SGLang's `gen_string`: a gen constrained to a quoted JSON string (`dtype=str`)."""
    return gen(name, dtype="str", **kwargs)


def select(name: str, choices: list[str], temperature: float = 0.0,
           choices_method: ChoicesMethod | str = token_length_normalized) -> SelectCall:
    """Pick one of `choices` by their tokens' logprobs given the prompt: `choices_method` is
    one of SGLang's (`lmc.token_length_normalized`, the default, `lmc.greedy_token_selection`,
    `lmc.unconditional_likelihood_normalized`); temperature > 0 samples from softmax(score/T)."""
    arguments.check_name(name, "lmc.select")
    if arguments.number(temperature, "temperature") < 0:
        raise LanguageError(f"temperature must be >= 0, got {temperature!r}")
    return SelectCall(name, arguments.check_choices(choices, "choices"), float(temperature), check_method(choices_method))


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


@dataclass(frozen=True)
class ImageCall:
    """An image, or with `frames` a video sampled at that many frames."""

    path: str
    frames: int | None = None


def image(path: str) -> ImageCall:
    """SGLang's `image(path)`: an image in the prompt. It compiles; running it needs a vision
    model, which lmc does not load yet, so such a row fails naming the model."""
    if not isinstance(path, str) or not path:
        raise LanguageError(f"lmc.image needs a non-empty str path, got {path!r}")
    return ImageCall(path)


def video(path: str, num_frames: int) -> ImageCall:
    """SGLang's `video(path, num_frames)`: a video in the prompt, `num_frames` frames of it. It
    compiles like `image`; running it needs a video model, so such a row fails naming the model."""
    if not isinstance(path, str) or not path:
        raise LanguageError(f"lmc.video needs a non-empty str path, got {path!r}")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise LanguageError(f"lmc.video needs num_frames, an int >= 1, got {num_frames!r}")
    return ImageCall(path, num_frames)


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
    gen: "gen", gen_int: "gen_int", gen_string: "gen_string", select: "select", image: "image", video: "video",
    system: "system", user: "user", assistant: "assistant",
    **{fn: fn.__name__ for fn in ROLE_MARKERS},
}

__all__ = [
    "CONSTRAINT_ARGS", "PRIMITIVES", "ROLES", "ROLE_MARKERS", "RUN_KEYWORDS", "GenCall", "ImageCall", "LogprobArgs",
    "RoleCall", "RoleMarker", "SelectCall", "as_select", "assistant", "assistant_begin", "assistant_end", "gen",
    "gen_int", "gen_string", "image", "run_defaults", "select", "system", "system_begin", "system_end", "user",
    "user_begin", "user_end",
]
