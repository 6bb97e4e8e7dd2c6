"""OpenAI request bodies read into engine requests, and OpenAI-style error objects.

Everything a client can get wrong is an `APIError` with a 4xx status and the `{"error": {...}}`
body the official clients parse; nothing here raises anything else for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmc.runtime.engine import Engine
from lmc.runtime.request import Request, SamplingParams

MAX_STOP_STRINGS = 4
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
    echo: bool
    logprob_start: int | None  # lmc extension: score prompt positions >= this (max_tokens 0)

    def requests(self, prompt: list[int]) -> list[Request]:
        return [Request(list(prompt), s, constraint=self.constraint,
                        logprob_start=self.logprob_start) for s in self.sampling]


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
        return [engine.tokenizer.encode(prompt, add_bos=engine.tokenizer.bos_token_id is not None)]
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
    logprobs, echo = _logprob_options(body, chat)
    start = _get(body, "logprob_start", (int,), None)
    if start is not None and (max_tokens != 0 or not echo):
        raise APIError(400, "'logprob_start' (an lmc extension) needs echo=true and max_tokens=0", "logprob_start")
    if echo and start is None:
        start = 1
    return Generation(prompts, sampling, None, bool(_get(body, "stream", (bool,), False)), logprobs, echo, start)


def _logprob_options(body: dict[str, Any], chat: bool) -> tuple[bool, bool]:
    """lmc returns the chosen token's log-probability only: wider top-k lists are refused."""
    if chat:
        wanted = bool(_get(body, "logprobs", (bool,), False))
        top = _get(body, "top_logprobs", (int,), 0)
        if top > 1:
            raise APIError(400, "lmc returns the chosen token's logprob only: top_logprobs must be 0 or 1", "top_logprobs")
        return wanted, False
    top = _get(body, "logprobs", (int,), None)
    if top is not None and top > 1:
        raise APIError(400, "lmc returns the chosen token's logprob only: logprobs must be 0 or 1", "logprobs")
    echo = bool(_get(body, "echo", (bool,), False))
    if echo and top is None:
        raise APIError(400, "echo=true needs logprobs (lmc echoes prompts to score them)", "echo")
    if echo and _get(body, "max_tokens", (int,), COMPLETION_DEFAULT_MAX_TOKENS) != 0:
        raise APIError(400, "echo=true is supported with max_tokens=0 (scoring a prompt)", "echo")
    return top is not None, echo


def constraint_source(body: dict[str, Any]) -> dict[str, Any] | None:
    """The constraint a body asks for, as compile_constraint arguments: response_format
    json_schema / json_object, or lmc's `regex` extension (top level or as a response_format)."""
    regex = body.get("regex")
    fmt = body.get("response_format")
    if fmt is not None and not isinstance(fmt, dict):
        raise APIError(400, "'response_format' must be an object", "response_format")
    kind = (fmt or {}).get("type", "text")
    if regex is not None and kind != "text":
        raise APIError(400, "give either 'regex' or a 'response_format', not both", "regex")
    if regex is not None or kind == "regex":
        pattern = regex if regex is not None else fmt.get("regex")
        if not isinstance(pattern, str) or not pattern:
            raise APIError(400, "'regex' must be a non-empty string", "regex")
        return {"regex": pattern}
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


def compile_source(source: dict[str, Any], engine: Engine) -> Any:
    """A Constraint for `source` over the engine's tokenizer; a bad pattern or schema is a 400."""
    from lmc.grammars import ConstraintError, compile_constraint

    tokenizer = engine.tokenizer
    try:
        return compile_constraint(**source, token_bytes=tokenizer.token_bytes(),
                                  eos_token_id=tokenizer.eos_token_id, vocab_size=engine.vocab_size)
    except (ConstraintError, ValueError) as exc:
        what = "regex" if "regex" in source else "response_format"
        raise APIError(400, f"invalid {what}: {exc}", what) from None
