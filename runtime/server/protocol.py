"""OpenAI request bodies read into engine requests, and OpenAI-style error objects.

Everything a client can get wrong is an `APIError` with a 4xx status and the `{"error": {...}}`
body the official clients parse; nothing here raises anything else for bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lmc.runtime.engine import Engine
from lmc.runtime.request import Request, SamplingParams

MAX_STOP_STRINGS = 4
MAX_TOP_LOGPROBS = 20  # OpenAI's limit for chat's top_logprobs
CHAT_DEFAULT_MAX_TOKENS = 256
COMPLETION_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


class APIError(Exception):
    """An error the client caused (or overload): `status` and an OpenAI error object."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Generation:
    """One request body, read: the prompts (token ids), how to sample, and what to return."""

    prompts: list[list[int]]
    sampling: list[SamplingParams]  # one per choice (n of them; seeds differ per choice)
    constraint: Any
    stream: bool
    logprobs: bool
    top_logprobs: int  # how many alternatives per position beside the chosen token's logprob
    echo: bool
    logprob_start: int | None  # lmc extension: score prompt positions >= this (max_tokens 0)
    constraint_source: dict[str, Any] | None = None  # what `constraint` was compiled from

    def requests(self, prompt: list[int]) -> list[Request]:
        top = self.top_logprobs if self.logprob_start is not None else 0
        return [Request(list(prompt), s, constraint=self.constraint, logprob_start=self.logprob_start,
                        top_logprobs=top, constraint_source=self.constraint_source) for s in self.sampling]


def _get(body: dict[str, Any], name: str, kinds: tuple[type, ...], default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in kinds:
        raise APIError(400, f"'{name}' must be {_names(kinds)}, got a boolean", name)
    if not isinstance(value, kinds):
        raise APIError(400, f"'{name}' must be {_names(kinds)}, got {type(value).__name__}", name)
    return value


def _names(kinds: tuple[type, ...]) -> str:
    words = {int: "an integer", float: "a number", str: "a string", bool: "a boolean", list: "an array", dict: "an object"}
    return " or ".join(dict.fromkeys(words[k] for k in kinds))


def check_model(body: dict[str, Any], served: str) -> None:
    model = body.get("model")
    if not isinstance(model, str):
        raise APIError(400, "'model' is required (a string); GET /v1/models lists the one served", "model")
    if model != served:
        raise APIError(404, f"the model '{model}' does not exist; this server serves '{served}'", "model",
                       "model_not_found")


def completion_prompts(body: dict[str, Any], engine: Engine) -> list[list[int]]:
    """`prompt` as text, a list of texts, token ids or a list of token-id lists."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [engine.tokenizer.encode_run(prompt, at_start=True)]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            return [list(prompt)]
        if all(isinstance(p, str) for p in prompt):
            return [completion_prompts({"prompt": p}, engine)[0] for p in prompt]
        if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
            return [list(p) for p in prompt]
    raise APIError(400, "'prompt' must be a non-empty string, array of strings, array of token ids "
                   "or array of token-id arrays", "prompt")


def chat_prompt(body: dict[str, Any], engine: Engine) -> list[int]:
    """`messages` rendered by the model's chat template, with the assistant's generation prompt."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "'messages' must be a non-empty array of {role, content}", "messages")
    rendered = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise APIError(400, f"messages[{i}] must be an object with a 'role' string", "messages")
        rendered.append({"role": message["role"], "content": _content(message.get("content"), i)})
    hf = engine.tokenizer.hf
    if not getattr(hf, "chat_template", None):
        raise APIError(400, "this model has no chat template; use /v1/completions", "messages")
    try:
        text = hf.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # the template's own checks (e.g. roles must alternate)
        raise APIError(400, f"the chat template refused these messages: {exc}", "messages") from None
    return engine.tokenizer.encode(text)


def _content(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    raise APIError(400, f"messages[{i}].content must be a string or an array of text parts", "messages")


def read_generation(body: dict[str, Any], prompts: list[list[int]], engine: Engine, chat: bool) -> Generation:
    """Sampling, constraints and output options of a /v1/completions or /v1/chat/completions body."""
    n = _get(body, "n", (int,), 1)
    if not 1 <= n <= 64:
        raise APIError(400, f"'n' must be between 1 and 64, got {n}", "n")
    longest = max(len(p) for p in prompts)
    room = engine.max_model_len - longest
    default = min(CHAT_DEFAULT_MAX_TOKENS, room) if chat else COMPLETION_DEFAULT_MAX_TOKENS
    max_tokens = _get(body, "max_completion_tokens", (int,), None) if chat else None
    max_tokens = max_tokens if max_tokens is not None else _get(body, "max_tokens", (int,), default)
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else stop or []
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop) or len(stop) > MAX_STOP_STRINGS:
        raise APIError(400, f"'stop' must be a string or up to {MAX_STOP_STRINGS} non-empty strings", "stop")
    seed = _get(body, "seed", (int,), None)
    stop_ids = _get(body, "stop_token_ids", (list,), [])
    if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < engine.vocab_size for t in stop_ids):
        raise APIError(400, "'stop_token_ids' must be token ids of this model's vocabulary", "stop_token_ids")
    try:
        sampling = [
            SamplingParams(
                max_tokens=max_tokens,
                temperature=float(_get(body, "temperature", (int, float), 1.0)),
                top_p=float(_get(body, "top_p", (int, float), 1.0)),
                frequency_penalty=float(_get(body, "frequency_penalty", (int, float), 0.0)),
                presence_penalty=float(_get(body, "presence_penalty", (int, float), 0.0)),
                seed=None if seed is None else seed + i,
                stop=tuple(stop),
                stop_token_ids=tuple(stop_ids),  # this and ignore_eos: vLLM's and SGLang's extensions
                ignore_eos=bool(_get(body, "ignore_eos", (bool,), False)),
            )
            for i in range(n)
        ]
    except ValueError as exc:
        raise APIError(400, str(exc)) from None
    logprobs, top, echo = _logprob_options(body, chat)
    start = _get(body, "logprob_start", (int,), None)
    if start is not None and (max_tokens != 0 or not echo):
        raise APIError(400, "'logprob_start' (an lmc extension) needs echo=true and max_tokens=0", "logprob_start")
    if echo and start is None:
        start = 1
    stream = bool(_get(body, "stream", (bool,), False))
    return Generation(prompts, sampling, None, stream, logprobs, top, echo, start)


def _logprob_options(body: dict[str, Any], chat: bool) -> tuple[bool, int, bool]:
    """(logprobs wanted, alternatives per position, echo): chat's `logprobs` + `top_logprobs`,
    or completions' `logprobs: k` (k alternatives; 0 for the chosen token's alone)."""
    if chat:
        wanted = bool(_get(body, "logprobs", (bool,), False))
        top = _get(body, "top_logprobs", (int,), 0)
        if not 0 <= top <= MAX_TOP_LOGPROBS:
            raise APIError(400, f"'top_logprobs' must be between 0 and {MAX_TOP_LOGPROBS}", "top_logprobs")
        if top and not wanted:
            raise APIError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs")
        return wanted, top, False
    top = _get(body, "logprobs", (int,), None)
    if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
        raise APIError(400, f"'logprobs' must be between 0 and {MAX_TOP_LOGPROBS}", "logprobs")
    echo = bool(_get(body, "echo", (bool,), False))
    if echo and top is None:
        raise APIError(400, "echo=true needs logprobs (lmc echoes prompts to score them)", "echo")
    if echo and _get(body, "max_tokens", (int,), COMPLETION_DEFAULT_MAX_TOKENS) != 0:
        raise APIError(400, "echo=true is supported with max_tokens=0 (scoring a prompt)", "echo")
    return top is not None, top or 0, echo


# Constraint extensions by the names SGLang and vLLM give them: body key -> compile_constraint's.
CONSTRAINT_KEYS = {"regex": "regex", "guided_regex": "regex", "ebnf": "grammar", "guided_grammar": "grammar",
                   "grammar": "grammar", "guided_choice": "choices", "choices": "choices", "guided_json": "json_schema"}


def constraint_source(body: dict[str, Any]) -> dict[str, Any] | None:
    """The constraint a body asks for, as compile_constraint arguments: response_format
    json_schema / json_object / regex, or one extension of CONSTRAINT_KEYS (a lark grammar,
    choices, a regex, a JSON schema)."""
    fmt = body.get("response_format")
    if fmt is not None and not isinstance(fmt, dict):
        raise APIError(400, "'response_format' must be an object", "response_format")
    kind = (fmt or {}).get("type", "text")
    given = [key for key in CONSTRAINT_KEYS if body.get(key) is not None]
    if len(given) + (kind != "text") > 1:
        named = given + ([f"response_format {kind}"] if kind != "text" else [])
        raise APIError(400, f"give one constraint, not {' and '.join(named)}", given[0])
    if given:
        return _extension(given[0], body[given[0]])
    if kind == "regex":
        return _extension("regex", fmt.get("regex"))
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, (dict, bool)):
            raise APIError(400, "response_format.json_schema.schema must be a JSON schema object", "response_format")
        return {"json_schema": schema}
    if kind == "json_object":
        return {"json_schema": {"type": "object"}}
    if kind != "text":
        raise APIError(400, f"response_format type {kind!r} is not one of text, json_object, json_schema, regex",
                       "response_format")
    return None


def _extension(key: str, value: Any) -> dict[str, Any]:
    kind = CONSTRAINT_KEYS[key]
    if kind == "choices":
        if not isinstance(value, list) or not value or not all(isinstance(c, str) and c for c in value):
            raise APIError(400, f"'{key}' must be a non-empty array of non-empty strings", key)
        return {"choices": value}
    if kind == "json_schema":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise APIError(400, f"'{key}' is not valid JSON: {exc}", key) from None
        if not isinstance(value, (dict, bool)):
            raise APIError(400, f"'{key}' must be a JSON schema object", key)
        return {"json_schema": value}
    if not isinstance(value, str) or not value.strip():
        raise APIError(400, f"'{key}' must be a non-empty string", key)
    if kind == "grammar" and "::=" in value:
        raise APIError(400, f"'{key}' looks like GBNF (`rule ::= ...`); lmc reads grammars in lark's EBNF: "
                       "write `start: \"yes\" | \"no\"` (rules `name: ...`, the first rule named `start`)", key)
    return {kind: value}


def compile_source(source: dict[str, Any], engine: Engine) -> Any:
    """A Constraint for `source` over the engine's tokenizer; a bad pattern or schema is a 400."""
    from lmc.grammars import ConstraintError, compile_constraint

    tokenizer = engine.tokenizer
    try:
        return compile_constraint(**source, token_bytes=tokenizer.token_bytes(),
                                  eos_token_id=tokenizer.eos_token_id, vocab_size=engine.vocab_size)
    except (ConstraintError, ValueError) as exc:
        what = next(iter(source))
        raise APIError(400, f"invalid {what}: {exc}", what) from None
