"""The OpenAI-compatible HTTP API over one engine (Starlette; run by uvicorn in `serve.py`).

Handlers read the body (protocol.py), submit to the engine thread (worker.py) and wait on an
asyncio queue that the engine thread feeds through `call_soon_threadsafe`: the event loop never
runs a forward. A client that goes away has its requests aborted, which releases their KV.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lmc.runtime.engine import Engine
from lmc.runtime.request import FinishReason, Request, RequestOutput, SamplingParams
from lmc.runtime.server.data_parallel import ModelFacts, RoutedWorkers
from lmc.runtime.server.metrics import ServerMetrics
from lmc.runtime.server.plans import run_plan_stream
from lmc.runtime.server.protocol import (
    APIError,
    Generation,
    chat_prompt,
    check_model,
    compile_source,
    completion_prompts,
    constraint_source,
    read_generation,
)
from lmc.runtime.server.worker import EngineWorker, Overloaded, Unavailable
from lmc.runtime.text_stream import TextStream

DISCONNECT_POLL_S = 0.25


class Server:
    """One engine and its worker thread (or data-parallel workers), and the routes; `app` is
    the ASGI application."""

    def __init__(self, engine: Engine | ModelFacts, model_name: str, max_queue: int = 1024,
                 worker: EngineWorker | RoutedWorkers | None = None) -> None:
        self.engine = engine  # the model's tokenizer and sizes: the engine, or data-parallel facts
        self.model_name = model_name
        self.worker = worker or EngineWorker(engine, max_queue)
        self.metrics = ServerMetrics(self.worker)
        self.created = int(time.time())
        routes = [
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/plans/run", self.plans_run, methods=["POST"]),
        ]
        self.on_ready: list[Callable[[], object]] = []
        self._mail: _Mailbox | None = None
        self.app = Starlette(routes=routes, lifespan=self._lifespan,
                             exception_handlers={404: self._not_found, 405: self._not_allowed})

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self.worker.start()
        for hook in self.on_ready:
            hook()
        try:
            yield
        finally:
            self.worker.stop()

    # ----------------------------------------------------------------- small routes

    async def health(self, _: HTTPRequest) -> Response:
        if not self.worker.alive:  # load balancers take a 503 to mean: send elsewhere
            return JSONResponse({"status": "unavailable", "inflight": self.worker.inflight}, status_code=503)
        return JSONResponse({"status": "ok", "inflight": self.worker.inflight})

    async def prometheus(self, _: HTTPRequest) -> Response:
        body, content_type = self.metrics.render()
        return Response(body, media_type=content_type)

    async def models(self, _: HTTPRequest) -> Response:
        card = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "lmc",
                "max_model_len": self.engine.max_model_len}
        return JSONResponse({"object": "list", "data": [card]})

    async def _not_found(self, request: HTTPRequest, _: Exception) -> Response:
        return _error(APIError(404, f"no route {request.url.path}", code="not_found"))

    async def _not_allowed(self, request: HTTPRequest, _: Exception) -> Response:
        return _error(APIError(405, f"{request.method} is not allowed on {request.url.path}"))

    # ----------------------------------------------------------------- generation

    async def completions(self, request: HTTPRequest) -> Response:
        return await self._generate(request, chat=False)

    async def chat_completions(self, request: HTTPRequest) -> Response:
        return await self._generate(request, chat=True)

    async def _generate(self, request: HTTPRequest, chat: bool) -> Response:
        endpoint = "chat" if chat else "completions"
        try:
            body = await _json_body(request)
            check_model(body, self.model_name)
            prompts = [chat_prompt(body, self.engine)] if chat else completion_prompts(body, self.engine)
            gen = read_generation(body, prompts, self.engine, chat)
            source = constraint_source(body)
            if source is not None:
                constraint = await asyncio.to_thread(compile_source, source, self.engine)
                gen = replace(gen, constraint=constraint, constraint_source=source)
            if gen.stream and gen.logprobs:
                raise APIError(400, "logprobs are returned for non-streamed requests only", "logprobs")
            calls = _Calls(self, request, gen)
            calls.submit_all()
        except APIError as exc:
            self.metrics.request(endpoint, exc.status)
            return _error(exc)
        self.metrics.request(endpoint, 200)
        if gen.stream:
            return StreamingResponse(calls.sse(chat), media_type="text/event-stream")
        try:
            outputs = await calls.wait_all()
        except APIError as exc:
            return _error(exc)
        if outputs is None:  # the client left; nobody reads this
            return Response(status_code=499)
        return JSONResponse(await calls.response(outputs, chat))

    async def plans_run(self, request: HTTPRequest) -> Response:
        try:
            body = await _json_body(request)
            lines = run_plan_stream(self, body, request)
        except APIError as exc:
            self.metrics.request("plans", exc.status)
            return _error(exc)
        self.metrics.request("plans", 200)
        return StreamingResponse(lines, media_type="application/x-ndjson")

    # ----------------------------------------------------------------- the engine thread's side

    def _mailbox(self, loop: asyncio.AbstractEventLoop) -> _Mailbox:
        if self._mail is None or self._mail.loop is not loop:
            self._mail = _Mailbox(loop)
        return self._mail

    def submit(self, request: Request, loop: asyncio.AbstractEventLoop, events: asyncio.Queue, tag: Any,
               tokens: bool = False) -> str:
        """Submit `request`; its output (and with `tokens`, each token) arrives on `events` as
        (tag, kind, value)."""

        mailbox = self._mailbox(loop)

        def on_token(_: str, token: int) -> None:
            mailbox.post(events, (tag, "token", token))

        def on_finish(output: RequestOutput) -> None:
            mailbox.post(events, (tag, "done", output))

        try:
            return self.worker.submit(replace(request, on_token=on_token if tokens else None, on_finish=on_finish))
        except Overloaded as exc:
            raise APIError(429, f"the server is busy: {exc}; retry later", code="rate_limit_exceeded",
                           kind="rate_limit_error") from None
        except Unavailable as exc:
            raise APIError(503, str(exc), kind="server_error") from None
        except ValueError as exc:
            code = "context_length_exceeded" if "context length" in str(exc) or "KV slots" in str(exc) else None
            raise APIError(400, str(exc), "messages" if "messages" in str(exc) else "prompt", code) from None


class _Mailbox:
    """Events from the engine's thread to the event loop's queues, one wake-up for a burst: a
    step's tokens for every stream cost one `call_soon_threadsafe`, not one each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: deque[tuple[asyncio.Queue, Any]] = deque()
        self._scheduled = False

    def post(self, queue: asyncio.Queue, item: Any) -> None:
        """Any thread: `queue.put_nowait(item)` on the loop, soon."""
        self._items.append((queue, item))
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        self._scheduled = False  # before taking: an item posted from now on schedules again
        items = self._items
        while items:
            queue, item = items.popleft()
            queue.put_nowait(item)


class _Calls:
    """The engine requests of one HTTP request: n choices for each prompt."""

    def __init__(self, server: Server, http: HTTPRequest, gen: Generation) -> None:
        self.server = server
        self.http = http
        self.gen = gen
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue = asyncio.Queue()
        self.rids: dict[int, str] = {}
        self.outputs: dict[int, RequestOutput] = {}
        self.id = f"cmpl-{uuid.uuid4().hex[:24]}"
        self._next_check = self.loop.time() + DISCONNECT_POLL_S

    def submit_all(self) -> None:
        index = 0
        try:
            for prompt in self.gen.prompts:
                for request in self.gen.requests(prompt):
                    self.rids[index] = self.server.submit(request, self.loop, self.events, index, self.gen.stream)
                    index += 1
        except APIError:
            self.abort()
            raise

    def abort(self) -> None:
        for index, rid in self.rids.items():
            if index not in self.outputs:
                self.server.worker.abort(rid)

    async def _next(self) -> tuple[int, str, Any] | None:
        """The next event, or None once the client has disconnected (its requests aborted).
        The connection is checked every DISCONNECT_POLL_S however fast events come."""
        while True:
            wait = self._next_check - self.loop.time()
            if wait <= 0:
                if await self.http.is_disconnected():
                    self.abort()
                    return None
                self._next_check = self.loop.time() + DISCONNECT_POLL_S
                continue
            if not self.events.empty():
                return self.events.get_nowait()
            try:
                return await asyncio.wait_for(self.events.get(), wait)
            except asyncio.TimeoutError:
                continue

    def _record(self, index: int, output: RequestOutput) -> None:
        if output.error is not None:
            self.abort()
            raise APIError(503, f"the request failed in the engine: {output.error}", kind="server_error")
        self.outputs[index] = output
        self.server.metrics.tokens(output.prompt_len, len(output.output_ids))

    async def wait_all(self) -> dict[int, RequestOutput] | None:
        while len(self.outputs) < len(self.rids):
            event = await self._next()
            if event is None:
                return None
            tag, kind, value = event
            if kind == "done":
                self._record(tag, value)
        return self.outputs

    async def sse(self, chat: bool) -> AsyncIterator[str]:
        streams = {i: TextStream(self.server.engine.tokenizer, self.gen.sampling[0].stop,
                                 exact=self.gen.constraint is None) for i in self.rids}
        try:
            if chat:
                for i in self.rids:
                    yield _sse(self._chunk(i, {"role": "assistant", "content": ""}, None, chat))
            while len(self.outputs) < len(self.rids):
                event = await self._next()
                if event is None:
                    return
                events = [event]
                while not self.events.empty():  # what else arrived: sent with it, in one write
                    events.append(self.events.get_nowait())
                text, failed = self._sse_events(events, streams, chat)
                yield text
                if failed:
                    return
            yield "data: [DONE]\n\n"
        finally:  # the client went away mid-stream (the generator is closed): free its KV
            self.abort()

    def _sse_events(self, events: list[tuple[int, str, Any]], streams: dict[int, TextStream],
                    chat: bool) -> tuple[str, bool]:
        """SSE text for a burst of events, and whether a request failed. A choice's tokens that
        arrived together go in one chunk (a chunk per token when the loop keeps up)."""
        out: list[str] = []
        tokens: dict[int, list[int]] = {}

        def flush(tag: int) -> None:
            ids = tokens.pop(tag, None)
            if ids:  # the text may be held back (a partial character or stop string): empty
                out.append(_sse(self._chunk(tag, streams[tag].extend(ids), None, chat, ids)))

        for tag, kind, value in events:
            if kind == "token":
                tokens.setdefault(tag, []).append(value)
                continue
            flush(tag)
            try:
                self._record(tag, value)
            except APIError as exc:
                out.append(_sse(exc.body()))
                return "".join(out), True
            rest = streams[tag].finish(value.text)
            if rest:
                out.append(_sse(self._chunk(tag, rest, None, chat)))
            last = self._chunk(tag, "", _finish_reason(value), chat)
            last["choices"][0]["output_token_ids"] = value.output_ids
            out.append(_sse(last))
        for tag in list(tokens):
            flush(tag)
        return "".join(out), False

    def _chunk(self, index: int, delta: Any, reason: str | None, chat: bool,
               ids: list[int] | None = None) -> dict[str, Any]:
        """One SSE chunk; lmc's extensions: `token_ids` (the ids since the last chunk) and, in
        the last chunk, `output_token_ids` (all of them, as the final output has them)."""
        base = {"id": self.id, "created": int(time.time()), "model": self.server.model_name}
        if chat:
            content = delta if isinstance(delta, dict) else ({"content": delta} if delta else {})
            choice = {"index": index, "delta": content, "logprobs": None, "finish_reason": reason,
                      "token_ids": ids or []}
            return {**base, "object": "chat.completion.chunk", "choices": [choice]}
        choice = {"index": index, "text": delta, "logprobs": None, "finish_reason": reason, "token_ids": ids or []}
        return {**base, "object": "text_completion", "choices": [choice]}

    async def response(self, outputs: dict[int, RequestOutput], chat: bool) -> dict[str, Any]:
        n = len(self.gen.sampling)
        choices = []
        for index in sorted(outputs):
            output = outputs[index]
            prompt = self.gen.prompts[index // n]
            logprobs = await self._logprobs(prompt, output, chat) if self.gen.logprobs else None
            choice: dict[str, Any] = {"index": index, "finish_reason": _finish_reason(output),
                                      "logprobs": logprobs, "token_ids": output.output_ids,
                                      "cached_tokens": output.cached_tokens}
            if chat:
                choice["message"] = {"role": "assistant", "content": output.text}
            else:
                echo = self.server.engine.tokenizer.decode(prompt) if self.gen.echo else ""
                choice["text"] = echo + output.text
            choices.append(choice)
        prompt_tokens = sum(len(p) for p in self.gen.prompts) * n
        completion_tokens = sum(len(o.output_ids) for o in outputs.values())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        kind = "chat.completion" if chat else "text_completion"
        return {"id": self.id, "object": kind, "created": int(time.time()), "model": self.server.model_name,
                "choices": choices, "usage": usage}

    async def _logprobs(self, prompt: list[int], output: RequestOutput, chat: bool) -> dict[str, Any]:
        """The chosen tokens' log-probabilities (and each position's `top_logprobs` likeliest
        tokens): the prompt's (echo) come with the output; the generated ones are scored by one
        more prefill over prompt + output (the prompt cached)."""
        table = self.server.engine.tokenizer.token_bytes()
        top = self.gen.top_logprobs
        if self.gen.echo:
            start = self.gen.logprob_start or 1
            ids = prompt
            values: list[float | None] = [None] * start + list(output.prompt_logprobs or [])
            alternatives: list[Any] = [None] * start + list(output.prompt_top_logprobs or [])
        else:
            ids = output.output_ids
            values, alternatives = await self._score(prompt, ids) if ids else ([], [])
        tokens = [_token_text(table, i) for i in ids]
        if chat:
            content = [{"token": t, "logprob": v, "bytes": list(table[i]),
                        "top_logprobs": [{"token": _token_text(table, a), "logprob": lp, "bytes": list(table[a])}
                                         for a, lp in (alts or [])]}
                       for t, v, i, alts in zip(tokens, values, ids, alternatives or [None] * len(ids))]
            return {"content": content}
        offsets, at = [], 0
        for t in tokens:
            offsets.append(at)
            at += len(t)
        tops = [None if alts is None else _by_text(table, alts) for alts in alternatives] if top else None
        return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}

    async def _score(self, prompt: list[int], ids: list[int]) -> tuple[list[float], list[Any]]:
        events: asyncio.Queue = asyncio.Queue()
        request = Request(prompt + ids, SamplingParams(max_tokens=0), logprob_start=len(prompt),
                          top_logprobs=self.gen.top_logprobs)
        self.server.submit(request, self.loop, events, "score")
        while True:
            _, kind, value = await events.get()
            if kind == "done":
                if value.error is not None:
                    raise APIError(503, f"scoring failed in the engine: {value.error}", kind="server_error")
                return value.prompt_logprobs or [], value.prompt_top_logprobs or [None] * len(ids)


def _token_text(table: list[bytes], token: int) -> str:
    return table[token].decode("utf-8", errors="replace") if token < len(table) else ""


def _by_text(table: list[bytes], alternatives: list[tuple[int, float]]) -> dict[str, float]:
    """OpenAI's completions shape, {token text: logprob} likeliest first; two ids with one text
    (partial UTF-8) keep the likelier."""
    out: dict[str, float] = {}
    for token, logprob in alternatives:
        out.setdefault(_token_text(table, token), logprob)
    return out


def _finish_reason(output: RequestOutput) -> str:
    return "length" if output.finish_reason is FinishReason.LENGTH else "stop"


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _error(exc: APIError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _json_body(request: HTTPRequest) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    return body
