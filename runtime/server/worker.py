"""The engine's own thread: every client's requests join one continuous batch.

HTTP handlers and plan runs never touch the engine: they post submits and aborts here, and this
thread applies them between steps and steps the engine while there is work. `on_token` and
`on_finish` run on this thread; callers pass them on to their event loop or their own thread.
A step that raises fails every request in flight (each gets its error) and the worker keeps
serving new requests.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from lmc.runtime.engine import Engine
from lmc.runtime.request import FinishReason, Request, RequestOutput


class Overloaded(Exception):
    """The queue limit is reached: the client should retry later (HTTP 429)."""


class Unavailable(Exception):
    """The engine thread is not running (not started, stopping, or dead): HTTP 503."""


class EngineWorker:
    """Owns `engine`; at most `max_queue` requests may be in flight (waiting or running)."""

    def __init__(self, engine: Engine, max_queue: int = 1024) -> None:
        self.engine = engine
        self.max_queue = max_queue
        self._inbox: deque[Callable[[], None]] = deque()
        self._wake = threading.Condition()
        self._inflight: dict[str, Callable[[RequestOutput], object] | None] = {}
        self._ids = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="lmc-engine", daemon=True)
        self.step_errors = 0

    def start(self) -> EngineWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def submit(self, request: Request) -> str:
        """Queue `request` and return its id; raises ValueError for a request that could never
        run and Overloaded past the queue limit. `on_finish` runs on the engine thread."""
        rid = request.rid or f"srv-{next(self._ids)}"
        request = replace(request, rid=rid)
        self.engine.validate(request, rid)
        with self._wake:
            if not self.alive:
                raise Unavailable("the engine is not running (the server is starting or shutting down)")
            if len(self._inflight) >= self.max_queue:
                raise Overloaded(f"{len(self._inflight)} requests are in flight (the limit is {self.max_queue})")
            if rid in self._inflight:
                raise ValueError(f"request id {rid!r} is already in flight")
            self._inflight[rid] = request.on_finish
            self._inbox.append(lambda: self._submit_now(replace(request, on_finish=self._finished)))
            self._wake.notify()
        return rid

    def abort(self, rid: str) -> None:
        """Stop `rid` if it is still in flight (a client went away); its KV is released."""
        with self._wake:
            self._inbox.append(lambda: self.engine.abort(rid))
            self._wake.notify()

    def unpin(self, rid: str) -> None:
        """Release a finished pinned request's KV (on the engine thread, between steps)."""
        with self._wake:
            self._inbox.append(lambda: self.engine.unpin(rid))
            self._wake.notify()

    def gauges(self) -> dict[str, float]:
        """The engine's state for /metrics, read now (plain counters; no lock with its thread)."""
        return {**engine_state(self.engine), "lmc_inflight_requests": self.inflight,
                "lmc_engine_step_errors": self.step_errors}

    def per_worker(self) -> list[dict[str, float]]:
        return []  # one engine: nothing to break down

    # ----------------------------------------------------------------- the engine thread

    def _submit_now(self, request: Request) -> None:
        try:
            self.engine.submit(request)
        except ValueError as exc:
            self._fail(request.rid, str(exc))

    def _finished(self, output: RequestOutput) -> None:
        with self._wake:
            callback = self._inflight.pop(output.rid, None)
        if callback is not None:
            callback(output)

    def _fail(self, rid: str, message: str) -> None:
        self._finished(RequestOutput(rid, 0, [], "", FinishReason.ABORT, error=message))

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not (self._inbox or self._stopping or self.engine.has_work()):
                    self._wake.wait()
                if self._stopping:
                    return
                ops = list(self._inbox)
                self._inbox.clear()
            for op in ops:
                op()
            if self.engine.has_work():
                try:
                    self.engine.step()
                except Exception as exc:  # keep serving: fail what was in flight, reset the engine
                    self.step_errors += 1
                    traceback.print_exc()
                    self._recover(f"the engine failed: {type(exc).__name__}: {exc}")

    def _recover(self, message: str) -> None:
        engine = self.engine
        for rid in list(self._inflight):
            with contextlib.suppress(Exception):  # the error below reaches the client either way
                engine.abort(rid)
            self._fail(rid, message)


def engine_state(engine: Engine) -> dict[str, float]:
    """What /metrics shows of an engine (metrics.py documents each name). KV `in_use` counts slots
    neither free nor evictable: held by requests in flight or pins, so 0 when idle."""
    stats = engine.stats()
    pool, cache = engine.pool, engine.cache
    return {
        "lmc_queue_length": len(engine.scheduler.waiting),
        "lmc_running_requests": len(engine.scheduler.running),
        "lmc_cached_tokens": stats.cached_tokens,
        "lmc_prefill_tokens": stats.prefill_tokens,
        "lmc_decode_tokens": stats.decode_tokens,
        "lmc_kv_tokens_capacity": pool.capacity,
        "lmc_kv_tokens_free": pool.num_free,
        "lmc_kv_tokens_evictable": cache.evictable_size,
        "lmc_kv_tokens_in_use": pool.capacity - pool.num_free - cache.evictable_size,
    }
