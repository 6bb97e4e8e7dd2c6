"""Programs on an OpenAI-compatible endpoint (lmc serve, vLLM, SGLang, OpenAI): `lmc.OpenAI(...)`.

The executor runs as it does locally and its requests become `/v1/completions` calls: prompts go
as token ids of a local copy of the model's tokenizer (exact, so the endpoint's prefix cache sees
the same tokens lmc's own engine would), generated ids come back in lmc serve's `token_ids` (or
are re-encoded from the text elsewhere). A gen is one call; a `select` scores each choice with
`echo` + `logprobs` (an endpoint without prompt logprobs gets a clear error); a regular constraint
is sent as `regex` (lmc serve and SGLang take it), a lark grammar as `guided_grammar` (lmc serve
and vLLM). Calls run on `concurrency` threads; a 429, a 5xx
or a dropped connection is retried with exponential backoff, and the request fails (its row only)
after the last retry.

Speculative execution (the SGLang paper's API-model section): with `num_api_spec_tokens=k` a
greedy gen asks for at least k tokens, without stop strings, and applies its own stop rules to
the continuation locally, with the engine's own stop check. The continuation is kept; a later
request whose prompt is a prefix of a kept continuation (the text between two gens matched what
the model went on to write, token for token) is answered from it without a call. Greedy decoding
is deterministic, so outputs are the same as without speculation; only calls and tokens change.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from lmc.runtime.elsewhere import FinishesElsewhere
from lmc.runtime.engine import EngineStats
from lmc.runtime.request import FinishReason, Request, RequestOutput
from lmc.runtime.stopping import check_stop, final_text
from lmc.runtime.tokenizer import load_tokenizer

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
KEPT_CONTINUATIONS = 4096


class APIBackendError(RuntimeError):
    """The endpoint refused a request, or cannot do what the program asks (e.g. no logprobs)."""


@dataclass
class APIStats:
    """What the endpoint was asked for: calls (HTTP requests, retries included), the tokens
    they sent and got back, and the requests speculation answered without a call."""

    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    speculative_hits: int = 0


@dataclass(frozen=True)
class _Config:
    base_url: str
    model: str
    api_key: str | None
    concurrency: int
    max_retries: int
    backoff_s: float
    timeout_s: float
    num_api_spec_tokens: int
    send_text: bool


class OpenAIEngine(FinishesElsewhere):
    """The driver's engine over an endpoint; see the module docstring."""

    def __init__(self, config: _Config, tokenizer_model: str) -> None:
        super().__init__()
        self.settings = config
        self.tokenizer = load_tokenizer(tokenizer_model)
        self.vocab_size = self.tokenizer.vocab_size
        eos = self.tokenizer.eos_token_id
        self.eos_ids = frozenset() if eos is None else frozenset({eos})
        self.api = APIStats()
        self._stats = EngineStats()
        self._count = threading.Lock()
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="lmc-api")
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.Client(base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout_s)
        self._kept: deque[tuple[int, ...]] = deque(maxlen=KEPT_CONTINUATIONS)

    @property
    def reuses_prefixes(self) -> bool:
        """No local radix cache: the executor pins and prefetches nothing (the endpoint caches what it caches)."""
        return False

    def stats(self) -> EngineStats:
        return self._stats

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    def _start(self, request: Request) -> None:
        with self._count:
            self._stats.requests += 1
            self._stats.prompt_tokens += len(request.input_ids)
        if request.sampling.max_tokens == 0 and request.logprob_start is None:
            self._done(request.rid, _output(request, [], FinishReason.LENGTH, ""))  # a prefetch: no call
            return
        self._pool.submit(self._run, request)

    def _run(self, request: Request) -> None:
        try:
            output = self._score(request) if request.logprob_start is not None else self._generate(request)
        except Exception as exc:
            self._done(request.rid, exc)
            return
        with self._count:
            self._stats.finished += 1
            self._stats.decode_tokens += len(output.output_ids)
            self._stats.cached_tokens += output.cached_tokens
            self._stats.prefill_tokens += output.prompt_len - output.cached_tokens
        self._done(request.rid, output)

    # ----------------------------------------------------------------- request kinds

    def _score(self, request: Request) -> RequestOutput:
        """Prompt log-probabilities from positions logprob_start on (a `select` choice)."""
        ids = request.input_ids
        start = request.logprob_start or 1
        body = {"prompt": self._prompt(ids), "max_tokens": 0, "echo": True, "logprobs": 0, "temperature": 0,
                "logprob_start": start}
        choice = self._call(body)
        values = (choice.get("logprobs") or {}).get("token_logprobs")
        wanted = len(ids) - start
        if not isinstance(values, list) or len(values) < wanted or any(v is None for v in values[len(values) - wanted:]):
            raise APIBackendError(
                "select needs the log-probabilities of prompt tokens (echo + logprobs on /v1/completions), "
                f"which {self.settings.base_url} did not return; use an endpoint that has them "
                "(lmc serve, vLLM, SGLang) or write the choice as a gen with regex="
            )
        output = _output(request, [], FinishReason.LENGTH, "")
        output.prompt_logprobs = [float(v) for v in values[len(values) - wanted:]]
        return output

    def _generate(self, request: Request) -> RequestOutput:
        params = request.sampling
        speculate = self._speculates(request)
        if speculate:
            found = self._from_kept(request)
            if found is not None:
                if request.on_token is not None:
                    for token in found.output_ids:
                        request.on_token(request.rid, token)
                with self._count:
                    self.api.speculative_hits += 1
                return found
        body: dict[str, Any] = {
            "prompt": self._prompt(request.input_ids),
            "max_tokens": max(params.max_tokens, self.settings.num_api_spec_tokens) if speculate else params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "frequency_penalty": params.frequency_penalty,
            "presence_penalty": params.presence_penalty,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.ignore_eos:
            body["ignore_eos"] = True  # lmc serve, vLLM and SGLang take these two extensions
        if params.stop_token_ids:
            body["stop_token_ids"] = list(params.stop_token_ids)
        if params.stop and not speculate:
            body["stop"] = list(params.stop)
        source = request.constraint_source
        if source is not None:  # vLLM's name for a lark grammar; lmc serve takes it too
            body.update({"regex": source["regex"]} if "regex" in source else {"guided_grammar": source["grammar"]})
        choice = self._call(body, request.on_token if not speculate else None, request.rid)
        ids = self._output_ids(choice)
        if speculate:
            self._kept.append((*request.input_ids, *ids))
            if request.on_token is not None:  # the reader sees this request's part of the continuation
                for token in ids[: params.max_tokens]:
                    request.on_token(request.rid, token)
            replay = self._replay(request, ids, ended=choice.get("finish_reason") != "length")
            if replay is None:  # cannot happen: the call asked for at least max_tokens
                raise APIBackendError("the endpoint returned fewer tokens than max_tokens without stopping")
            return replay
        reason = FinishReason.LENGTH if choice.get("finish_reason") == "length" else FinishReason.STOP
        return _output(request, ids, reason, str(choice.get("text", "")), choice.get("cached_tokens", 0))

    def _speculates(self, request: Request) -> bool:
        params = request.sampling
        return (self.settings.num_api_spec_tokens > 0 and params.greedy and request.constraint is None
                and not params.stop_token_ids and not params.ignore_eos
                and not (params.frequency_penalty or params.presence_penalty))

    def _from_kept(self, request: Request) -> RequestOutput | None:
        prompt = tuple(request.input_ids)
        n = len(prompt)
        for kept in reversed(self._kept):
            if len(kept) > n and kept[:n] == prompt:
                output = self._replay(request, list(kept[n:]), ended=False)
                if output is not None:
                    return output
        return None

    def _replay(self, request: Request, continuation: list[int], ended: bool) -> RequestOutput | None:
        """The output the endpoint would give `request` (greedy) if it wrote `continuation`:
        the engine's stop check token by token. None if the continuation ran out first (unless
        it `ended` there, on EOS: the endpoint stopped by itself)."""
        params = request.sampling
        decode = self.tokenizer.decode_continuation
        for end in range(1, len(continuation) + 1):
            reason = check_stop(continuation[:end], params, self.eos_ids, decode)
            if reason is not None:
                ids = continuation[:end]
                return _output(request, ids, reason, final_text(ids, reason, params, self.eos_ids, decode))
        if ended and continuation:
            return _output(request, continuation, FinishReason.STOP, decode(continuation))
        return None

    # ----------------------------------------------------------------- HTTP

    def _prompt(self, ids: list[int]) -> list[int] | str:
        return self.tokenizer.decode(ids) if self.settings.send_text else list(ids)

    def _output_ids(self, choice: dict[str, Any]) -> list[int]:
        ids = choice.get("token_ids")
        if isinstance(ids, list) and all(isinstance(i, int) for i in ids):
            return ids
        return self.tokenizer.encode_continuation(str(choice.get("text", "")))

    def _call(self, body: dict[str, Any], on_token: Any = None, rid: str = "") -> dict[str, Any]:
        """POST /completions with retries; returns the first choice. With `on_token` the call is
        streamed and each token id is handed on as it arrives (lmc serve's `token_ids` chunks)."""
        body = {"model": self.settings.model, **body, **({"stream": True} if on_token else {})}
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            with self._count:
                self.api.calls += 1
                self.api.retries += attempt > 0
            try:
                if on_token is not None:
                    with self._http.stream("POST", "/completions", json=body) as reply:
                        if reply.status_code == 200:
                            return self._streamed(reply, on_token, rid, len(body["prompt"]))
                        reply.read()
                else:
                    reply = self._http.post("/completions", json=body)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
                wait = None
            else:
                if reply.status_code == 200:
                    return self._choice(reply)
                failure = f"HTTP {reply.status_code}: {_message(reply)}"
                if reply.status_code not in RETRY_STATUSES:
                    raise APIBackendError(f"{self.settings.base_url} refused the request: {failure}")
                wait = _retry_after(reply)
            if attempt + 1 < attempts:
                time.sleep(wait if wait is not None else self.settings.backoff_s * 2**attempt)
        raise APIBackendError(f"{self.settings.base_url} failed after {attempts} attempts: {failure}")

    def _streamed(self, reply: httpx.Response, on_token: Any, rid: str, prompt_tokens: int) -> dict[str, Any]:
        """An SSE reply gathered into one choice, its token ids handed on as they arrive."""
        text, ids, final, reason = [], [], None, None
        for line in reply.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise APIBackendError(f"{self.settings.base_url} failed mid-stream: {chunk['error'].get('message')}")
            choice = chunk["choices"][0]
            text.append(choice.get("text") or "")
            for token in choice.get("token_ids") or []:
                ids.append(token)
                on_token(rid, token)
            final = choice.get("output_token_ids", final)
            reason = choice.get("finish_reason") or reason
        out = {"text": "".join(text), "finish_reason": reason, "token_ids": final if final is not None else ids}
        if final is None and not ids:
            del out["token_ids"]  # another endpoint: re-encode the text
        with self._count:
            self.api.prompt_tokens += prompt_tokens
            self.api.completion_tokens += len(out.get("token_ids", ids))
        return out

    def _choice(self, reply: httpx.Response) -> dict[str, Any]:
        data = reply.json()
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise APIBackendError(f"{self.settings.base_url} returned no choices: {str(data)[:200]}")
        usage = data.get("usage") or {}
        with self._count:
            self.api.prompt_tokens += int(usage.get("prompt_tokens", 0))
            self.api.completion_tokens += int(usage.get("completion_tokens", 0))
        return choices[0]


def _output(request: Request, ids: list[int], reason: FinishReason, text: str, cached: int = 0) -> RequestOutput:
    return RequestOutput(request.rid, len(request.input_ids), list(ids), text, reason, cached_tokens=cached)


def _message(reply: httpx.Response) -> str:
    try:
        return str(reply.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return reply.text[:200]


def _retry_after(reply: httpx.Response) -> float | None:
    try:
        return min(float(reply.headers["retry-after"]), 30.0)
    except (KeyError, ValueError):
        return None


class OpenAI:
    """A backend for `lmc.set_default_backend`: programs run on an OpenAI-compatible endpoint.

    `tokenizer` names the local tokenizer (a model lmc can load: 'tiny', a preset, an HF folder;
    default `model`); `api_key_env` names the environment variable holding the key;
    `send_text=True` sends prompts as text, for endpoints whose tokenizer lmc does not have."""

    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1", *, api_key: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", tokenizer: str | None = None, concurrency: int = 16,
                 max_retries: int = 4, backoff_s: float = 0.5, timeout_s: float = 600.0,
                 num_api_spec_tokens: int = 0, send_text: bool = False) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0 or num_api_spec_tokens < 0:
            raise ValueError("max_retries and num_api_spec_tokens must be >= 0")
        key = api_key if api_key is not None else (os.environ.get(api_key_env) if api_key_env else None)
        settings = _Config(base_url, model, key, concurrency, max_retries, backoff_s, timeout_s,
                           num_api_spec_tokens, send_text)
        self.engine = OpenAIEngine(settings, tokenizer or model)

    @property
    def api(self) -> APIStats:
        return self.engine.api

    def __repr__(self) -> str:
        return f"OpenAI(model={self.engine.settings.model!r}, base_url={self.engine.settings.base_url!r})"
