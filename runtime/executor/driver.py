"""The driver: many rows' coroutines over one engine, everything that is ready submitted at once.

Each row is a set of coroutines (row.py). The driver keeps a ready queue of coroutines to resume,
submits what they yield, steps the engine, and queues a coroutine again when all its requests
have finished (the engine calls back through `Request.on_finish`, also for a request whose whole
output a constraint forced at submit). Rows start in the plan's order, at most
`max_active_rows` at a time to bound memory; a row's position in that order is its requests'
priority. A row's host calls run on a pool of `host_threads` threads while the engine steps;
their results are recorded here, between steps. Any exception inside a row fails that row only.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from lmc.plan.errors import RowError
from lmc.plan.instantiate import Instantiator, RowProgram, messages
from lmc.runtime.engine import InvalidRequest
from lmc.runtime.executor.awaits import Block, Pin, Submit
from lmc.runtime.executor.engine_like import EngineLike
from lmc.runtime.executor.host_calls import CallPool
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.pins import PrefixPins
from lmc.runtime.executor.results import RowFailure, RowResult
from lmc.runtime.executor.row import Coroutine, RowEnv, RowRun
from lmc.runtime.request import Request, RequestOutput, SamplingParams


class RequestRejected(Exception):
    """The engine refused a row's request (e.g. a prompt longer than the model's context)."""


@dataclass(eq=False)
class _Task:
    live: _Live
    co: Coroutine
    results: list[Any] = field(default_factory=list)
    waiting: int = 0


@dataclass(eq=False)
class _Live:
    """Driver bookkeeping of a row in flight: how many of its coroutines are alive, queued,
    blocked, and how many requests or pins they wait for."""

    job: RowJob
    row: RowRun
    priority: int
    tasks: int = 0
    queued: int = 0
    inflight: int = 0
    blocked: list[_Task] = field(default_factory=list)
    calls: int = 0  # host calls running on the pool
    woken: int = -1
    pins: set[tuple[int, ...]] = field(default_factory=set)
    failed: bool = False


class Driver:
    """Runs rows over one engine; `on_result` gets each row as it finishes (any order)."""

    def __init__(
        self,
        engine: EngineLike,
        instantiator: Instantiator,
        env: RowEnv,
        on_result: Callable[[RowResult], None],
        max_active_rows: int = 128,
        keep_text: bool = False,
        on_step: Callable[[], None] | None = None,
        metrics: RunMetrics | None = None,
        host_threads: int = 8,
    ) -> None:
        if max_active_rows < 1:
            raise ValueError(f"max_active_rows must be >= 1, got {max_active_rows}")
        self.engine = engine
        self.instantiator = instantiator
        self.env = env
        self.on_result = on_result
        self.max_active_rows = max_active_rows
        self.keep_text = keep_text
        self.on_step = on_step
        self.metrics = metrics or RunMetrics()
        self.pins = PrefixPins(engine.unpin)
        self.calls = CallPool(host_threads)
        self._ready: deque[tuple[_Task, Any]] = deque()
        self._active: dict[int, _Live] = {}
        self._rids = itertools.count()
        self._run_id = f"x{id(self):x}"
        self._started: dict[int, RowProgram] = {}

    def run(self, jobs: Iterable[RowJob], started: dict[int, RowProgram] | None = None) -> RunMetrics:
        """Run every job (in the given order) to a result; `started` holds programs already
        started for some jobs (by index), which are run instead of instantiating those rows."""
        self._started = started or {}
        pending = iter(jobs)
        priority = itertools.count()
        exhausted = False
        try:
            while True:
                while not exhausted and len(self._active) < self.max_active_rows:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                    else:
                        self._start(job, next(priority))
                self._pump()
                if exhausted and not self._active:
                    break
                if self.engine.has_work():
                    self.engine.step()
                    if self.on_step is not None:
                        self.on_step()
                    self._called(wait=False)
                elif not self._ready and self.calls.running:
                    self._called(wait=True)
                elif not self._ready:
                    for live in list(self._active.values()):
                        self._fail(live, RuntimeError("the row waits for values that nothing will produce"))
            while self.engine.has_work():  # prefetches nobody waits for any more
                self.engine.step()
        finally:
            self.pins.release_all()
            self.calls.close()
        return self.metrics

    # -- rows ----------------------------------------------------------------------------------
    def _start(self, job: RowJob, priority: int) -> None:
        if job.error is not None:
            self._emit(RowResult(job.index, job.id, error=job.error))
            return
        try:
            program = self._started.pop(job.index, None) or self.instantiator.row(job.fields or {}, job.id)
            row = RowRun(program, self.env)
            live = _Live(job, row, priority)
            row.begin()
        except Exception as exc:
            self._emit(RowResult(job.index, job.id, error=_failure(exc, job.id, None)))
            return
        self._active[job.index] = live
        self._spawn(live)

    def _spawn(self, live: _Live) -> None:
        """Queue the row's new coroutines and start its host calls that are ready."""
        for co in live.row.spawned:
            live.tasks += 1
            self._queue(_Task(live, co), None)
        live.row.spawned.clear()
        ready, live.row.ready_calls = live.row.ready_calls, []
        for op in ready:
            host = live.row.env.host
            assert host is not None  # RowRun refuses calls without host functions
            try:
                run = host.bound(live.row.program, op)
            except Exception as exc:
                live.row.node = op.node
                self._fail(live, exc)
                return
            live.calls += 1
            self.calls.submit((live, op), run)

    def _called(self, wait: bool) -> None:
        """Record the host calls that finished (with `wait`, once one has) in their rows."""
        for (live, op), future in self.calls.finished(wait):
            live.calls -= 1
            if live.failed:
                continue
            try:
                live.row.record(op, future.result())
            except Exception as exc:
                live.row.node = op.node
                self._fail(live, exc)
                continue
            self._settle(live)

    def _finish(self, live: _Live) -> None:
        row = live.row
        try:
            outputs = row.program.outputs()
        except Exception as exc:
            self._fail(live, exc)
            return
        meta = {"flags": row.flags, "generated_tokens": row.generated_tokens}
        text = row.final_text() if self.keep_text else None
        chat = messages(row.program) if self.keep_text else None
        info = row.meta_infos() if self.keep_text else None
        self._close(live)
        self._emit(RowResult(live.job.index, live.job.id, outputs, meta, text=text, messages=chat, meta_info=info))

    def _fail(self, live: _Live, exc: BaseException) -> None:
        live.failed = True
        for task in live.blocked:
            task.co.close()
        self._close(live)
        self._emit(RowResult(live.job.index, live.job.id, error=_failure(exc, live.job.id, live.row.node)))

    def _close(self, live: _Live) -> None:
        self._active.pop(live.job.index, None)
        self.pins.release(live.job.index, live.pins)
        for rid in live.row.held:
            self.engine.unpin(rid)
        live.row.held.clear()

    def _emit(self, result: RowResult) -> None:
        m = self.metrics
        m.rows_done += 1
        m.rows_failed += not result.ok
        flags = result.meta.get("flags") or []
        m.rows_flagged += bool(flags)
        m.flags.update({flag["type"] for flag in flags})
        self.on_result(result)

    # -- coroutines ----------------------------------------------------------------------------
    def _queue(self, task: _Task, value: Any) -> None:
        task.live.queued += 1
        self._ready.append((task, value))

    def _pump(self) -> None:
        """Resume everything that is ready; what they yield is submitted before the next step."""
        while self._ready:
            task, value = self._ready.popleft()
            live = task.live
            live.queued -= 1
            if live.failed:
                continue
            self._resume(task, value)
            if not live.failed:
                self._settle(live)

    def _settle(self, live: _Live) -> None:
        """After the row changed: start what it made ready, wake its blocked coroutines, and
        finish it when nothing is left (or fail it when nothing can go on)."""
        self._spawn(live)
        if live.failed:
            return
        if live.row.version != live.woken:
            live.woken = live.row.version
            blocked, live.blocked = live.blocked, []
            for waiting in blocked:
                self._queue(waiting, None)
        if live.calls:
            return
        if live.tasks == 0:
            self._finish(live)
        elif live.queued == 0 and live.inflight == 0:
            self._fail(live, RuntimeError("the row waits for values that nothing will produce"))

    def _resume(self, task: _Task, value: Any) -> None:
        live = task.live
        try:
            step = task.co.send(value)
        except StopIteration:
            live.tasks -= 1
            live.row.version += 1
            return
        except Exception as exc:
            self._fail(live, exc)
            return
        if isinstance(step, Block):
            live.blocked.append(task)
        elif isinstance(step, Submit):
            self._submit(task, step)
        elif isinstance(step, Pin):
            self._pin(task, step)

    def _submit(self, task: _Task, step: Submit) -> None:
        live = task.live
        started = time.perf_counter()
        if step.wait:
            task.results = [None] * len(step.requests)
            task.waiting = len(step.requests)
            live.inflight += len(step.requests)
        for i, request in enumerate(step.requests):  # a row's requests are new: the driver completes them
            request.rid, request.priority = self._rid(), live.priority
            request.on_finish = partial(self._deliver, task if step.wait else None, i, step, started)
            try:
                self.engine.submit(request)
            except ValueError as exc:
                self._fail(live, RequestRejected(_reason(exc)))
                return
        if not step.wait:
            self._queue(task, None)

    def _deliver(self, task: _Task | None, i: int, step: Submit, started: float, output: RequestOutput) -> None:
        self.metrics.request_done(step.node, step.kind, output, time.perf_counter() - started, step.modeled)
        if task is None or task.live.failed:
            return
        if output.error is not None:
            self._fail(task.live, RequestRejected(output.error))
            return
        task.live.inflight -= 1
        task.results[i] = output
        task.waiting -= 1
        if task.waiting == 0:
            self._queue(task, task.results)

    def _pin(self, task: _Task, step: Pin) -> None:
        live = task.live
        entry, new = self.pins.use(step.ids, live.job.index, step.keep)
        live.pins.add(step.ids)
        if entry.done:
            self._queue(task, None)
            return
        entry.waiters.append(task)
        live.inflight += 1
        if not new:
            return
        entry.rid = self._rid()
        done = partial(self._pinned, step.ids, step.node, time.perf_counter())
        request = Request(list(step.ids), SamplingParams(max_tokens=0), rid=entry.rid, pin=True,
                          priority=live.priority, on_finish=done)
        try:
            self.engine.submit(request)
        except ValueError as exc:
            self.pins.drop(step.ids)
            self._fail(live, RequestRejected(_reason(exc)))

    def _pinned(self, ids: tuple[int, ...], node: str, started: float, output: RequestOutput) -> None:
        self.metrics.request_done(node, "prefix", output, time.perf_counter() - started, "helper")
        for task in self.pins.finished(ids):
            if not task.live.failed:
                task.live.inflight -= 1
                self._queue(task, None)

    def _rid(self) -> str:
        return f"{self._run_id}-{next(self._rids)}"


def _reason(exc: ValueError) -> str:
    """Why the engine refused a request, without its request id (internal to the driver)."""
    return exc.reason if isinstance(exc, InvalidRequest) else str(exc)


def _failure(exc: BaseException, row_id: Any, node: str | None) -> RowFailure:
    """A row's error record; messages name the row and the plan node (RowError already does)."""
    if isinstance(exc, RowError):
        return RowFailure("RowError", str(exc))
    where = f"row {row_id!r}" + (f", node {node}" if node else "")
    return RowFailure(type(exc).__name__, f"{where}: {exc}")
