"""One engine in its own process, driven from the server's: a data-parallel serving worker.

`RemoteWorker` (in the server) has `EngineWorker`'s interface; the process it spawns builds an
`Engine`, wraps it in an `EngineWorker` and applies the messages it is sent (submit, abort,
unpin, stop). Requests travel without callbacks or compiled constraint (only its source, which
the worker compiles again, from the same cache); tokens and outputs come back on one queue, the
outputs with the engine's state (`engine_state`) right after them, which /metrics shows. A
reader thread in the server hands each to the request's callbacks, as the engine thread does
in one process. A worker process that dies fails its requests in flight and answers 503 after; one whose server
dies (even by SIGKILL) stops by itself.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import check_request
from lmc.runtime.request import FinishReason, Request, RequestOutput
from lmc.runtime.server.worker import Unavailable

READY_TIMEOUT_S = 1800  # an 8B checkpoint from a cold disk
POLL_S = 0.5


@dataclass(frozen=True)
class EngineFacts:
    """The fixed sizes of a worker's engine, sent once it is built."""

    max_model_len: int
    vocab_size: int
    kv_capacity: int
    eos_ids: frozenset[int]
    reuses_prefixes: bool


class RemoteWorker:
    """An engine process (`rank`), as the server's routes use an `EngineWorker`."""

    def __init__(self, rank: int, config: EngineConfig, device: str | None, threads: int) -> None:
        self.rank = rank
        context = multiprocessing.get_context("spawn")
        self._inbox = context.Queue()
        self._outbox = context.Queue()
        self._process = context.Process(target=_serve_engine, args=(config, device, threads, self._inbox, self._outbox),
                                        name=f"lmc-serve-dp-{rank}", daemon=True)
        self._callbacks: dict[str, tuple[Callable | None, Callable | None]] = {}
        self._lock = threading.Lock()
        self.facts: EngineFacts | None = None
        self.state: dict[str, float] = {}
        self.step_errors = 0
        self._dead: str | None = None
        self._reader = threading.Thread(target=self._read, name=f"lmc-dp-reader-{rank}", daemon=True)

    def launch(self) -> None:
        self._process.start()

    def wait_ready(self) -> EngineFacts:
        """Block until the engine is built; raises RuntimeError with the worker's traceback."""
        while True:
            try:
                kind, body = self._outbox.get(timeout=POLL_S)
            except queue.Empty:
                if not self._process.is_alive():
                    raise RuntimeError(f"data-parallel worker {self.rank} exited with code "
                                       f"{self._process.exitcode} while loading") from None
                continue
            if kind == "error":
                raise RuntimeError(f"data-parallel worker {self.rank} failed to load:\n{body}")
            self.facts, self.state = body
            self._reader.start()
            return self.facts

    @property
    def alive(self) -> bool:
        return self._dead is None and self._process.is_alive()

    @property
    def inflight(self) -> int:
        return len(self._callbacks)

    def submit(self, request: Request) -> str:
        """Send `request` (its id set by the caller) to the process; ValueError if it could never run."""
        facts = self.facts
        if not self.alive or facts is None:
            raise Unavailable(f"data-parallel worker {self.rank} is not running ({self._dead or 'stopped'})")
        check_request(request, request.rid, facts.vocab_size, facts.max_model_len, facts.kv_capacity)
        with self._lock:
            if request.rid in self._callbacks:
                raise ValueError(f"request id {request.rid!r} is already in flight")
            self._callbacks[request.rid] = (request.on_token, request.on_finish)
        bare = replace(request, on_token=None, on_finish=None, constraint=None)
        self._inbox.put(("submit", (bare, request.on_token is not None)))
        return request.rid

    def abort(self, rid: str) -> None:
        self._inbox.put(("abort", rid))

    def unpin(self, rid: str) -> None:
        self._inbox.put(("unpin", rid))

    def stop(self) -> None:
        if self._process.is_alive():
            self._inbox.put(("stop", None))
            self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def _read(self) -> None:
        """The server's side of the outbox: tokens and outputs to their requests' callbacks."""
        while True:
            try:
                kind, *body = self._outbox.get(timeout=POLL_S)
            except queue.Empty:
                if not self._process.is_alive():
                    self._died(f"the worker process exited with code {self._process.exitcode}")
                    return
                continue
            except (EOFError, OSError):  # the queue's pipe closed with the process
                self._died("the worker process went away")
                return
            if kind == "token":
                rid, token = body
                on_token = self._callbacks.get(rid, (None, None))[0]
                if on_token is not None:
                    on_token(rid, token)
            elif kind == "done":
                output, self.state = body
                self.step_errors = int(self.state.get("lmc_engine_step_errors", 0))
                with self._lock:
                    _, on_finish = self._callbacks.pop(output.rid, (None, None))
                if on_finish is not None:
                    on_finish(output)
            elif kind == "stopped":
                return

    def _died(self, why: str) -> None:
        self._dead = why
        with self._lock:
            callbacks, self._callbacks = self._callbacks, {}
        for rid, (_, on_finish) in callbacks.items():
            if on_finish is not None:
                on_finish(RequestOutput(rid, 0, [], "", FinishReason.ABORT,
                                        error=f"data-parallel worker {self.rank}: {why}"))


def _serve_engine(config: EngineConfig, device: str | None, threads: int, inbox: Any, outbox: Any) -> None:
    """The worker process: an engine on its own thread, fed from `inbox` until told to stop."""
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device  # read when CUDA first starts
    import torch

    from lmc.runtime.engine import Engine
    from lmc.runtime.server.worker import EngineWorker, engine_state

    torch.set_num_threads(threads)
    try:
        engine = Engine(config)
    except BaseException:
        outbox.put(("error", traceback.format_exc()))
        return
    worker = EngineWorker(engine, max_queue=1 << 30).start()  # the server keeps the queue limit

    def state() -> dict[str, float]:
        return {**engine_state(engine), "lmc_engine_step_errors": worker.step_errors}

    def finished(output: RequestOutput) -> None:
        outbox.put(("done", output, state()))

    facts = EngineFacts(engine.max_model_len, engine.vocab_size, engine.pool.capacity, engine.eos_ids,
                        engine.reuses_prefixes)
    outbox.put(("ready", (facts, state())))
    parent = os.getppid()
    while True:
        try:
            kind, body = inbox.get(timeout=POLL_S)
        except queue.Empty:
            if os.getppid() != parent:  # the server was killed: nobody will send "stop"
                kind, body = "stop", None
            else:
                continue
        if kind == "stop":
            worker.stop()
            outbox.put(("stopped", None))
            return
        if kind == "abort":
            worker.abort(body)
        elif kind == "unpin":
            worker.unpin(body)
        else:
            _submit(worker, engine, *body, outbox, finished)


def _submit(worker: Any, engine: Any, request: Request, wants_tokens: bool, outbox: Any,
            finished: Callable[[RequestOutput], None]) -> None:
    """Compile the request's constraint here (from the shared cache) and hand it to the engine."""
    def on_token(rid: str, token: int) -> None:
        outbox.put(("token", rid, token))

    try:
        constraint = None
        if request.constraint_source is not None:
            from lmc.grammars import compile_constraint

            tokenizer = engine.tokenizer
            constraint = compile_constraint(**request.constraint_source, token_bytes=tokenizer.token_bytes(),
                                            eos_token_id=tokenizer.eos_token_id, vocab_size=engine.vocab_size)
        worker.submit(replace(request, constraint=constraint, on_token=on_token if wants_tokens else None,
                              on_finish=finished))
    except Exception as exc:  # the server checked it; whatever is left fails this request alone
        finished(RequestOutput(request.rid, len(request.input_ids), [], "", FinishReason.ABORT,
                               error=f"{type(exc).__name__}: {exc}"))
