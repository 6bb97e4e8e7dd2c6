"""An engine whose requests finish elsewhere: on the server's engine thread, or at an HTTP endpoint.

The executor's driver is single-threaded: it submits requests, calls `step()`, and expects each
request's `on_finish` to run inside that call. `FinishesElsewhere` gives it that shape over work
that completes on other threads: completions are queued as they arrive and `step()` waits for at
least one, then runs the callbacks in the driver's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import replace

from lmc.runtime.request import FinishReason, Request, RequestOutput


class FinishesElsewhere:
    """The `submit` / `step` / `has_work` / `unpin` half of an engine; subclasses `_start` a
    request somewhere and call `_done(rid, output)` from any thread when it finishes."""

    def __init__(self) -> None:
        self._finished: queue.Queue[tuple[str, RequestOutput | BaseException]] = queue.Queue()
        self._callbacks: dict[str, Callable[[RequestOutput], object] | None] = {}
        self._lock = threading.Lock()

    def submit(self, request: Request) -> str:
        with self._lock:
            if request.rid in self._callbacks:
                raise ValueError(f"request id {request.rid!r} is already in flight")
            self._callbacks[request.rid] = request.on_finish
        try:
            self._start(replace(request, on_finish=None))
        except BaseException:
            with self._lock:
                self._callbacks.pop(request.rid, None)
            raise
        return request.rid

    def has_work(self) -> bool:
        with self._lock:
            return bool(self._callbacks)

    def step(self) -> list[RequestOutput]:
        """Wait for the next finished request (then take every other one already finished) and
        run their callbacks here; a request that failed elsewhere finishes as ABORT with its
        `error` set (the driver fails that request's row only)."""
        if not self.has_work():
            return []
        done = [self._finished.get()]
        while not self._finished.empty():
            done.append(self._finished.get_nowait())
        outputs = []
        for rid, result in done:
            with self._lock:
                callback = self._callbacks.pop(rid)
            if isinstance(result, BaseException):
                result = RequestOutput(rid, 0, [], "", FinishReason.ABORT, error=f"{type(result).__name__}: {result}")
            if callback is not None:
                callback(result)
            outputs.append(result)
        return outputs

    def unpin(self, rid: str) -> None:
        """Pins keep KV resident in a local cache; elsewhere there is none to release."""

    def _done(self, rid: str, result: RequestOutput | BaseException) -> None:
        self._finished.put((rid, result))

    def _start(self, request: Request) -> None:
        raise NotImplementedError
