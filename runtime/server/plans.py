"""POST /v1/plans/run: a compiled plan over posted rows, result rows streamed back as JSON lines.

Body: `{"plan": <plan.json content>, "rows": [{inputs}, ...], "seed": 0}`. The executor runs on
its own thread over `WorkerEngine`, whose requests join the server's one batch and cache beside
every other client's; each row's line (`lmc run`'s out.jsonl record, with its input `index`) is
sent as soon as the row finishes. A client that leaves stops the run: its rows in flight are
aborted, the rest fail without running. A plan with host calls is refused: its calls would run
Python named by the client on the server.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request as HTTPRequest

from lmc.runtime.elsewhere import FinishesElsewhere
from lmc.runtime.engine import EngineStats
from lmc.runtime.request import Request
from lmc.runtime.server.protocol import APIError
from lmc.runtime.server.worker import EngineWorker, Overloaded, Unavailable

if TYPE_CHECKING:
    from lmc.runtime.server.app import Server


class WorkerEngine(FinishesElsewhere):
    """The server's engine as one plan run sees it: requests go through the worker (`engine` is
    what the server knows of the model: an Engine, or data-parallel workers' `ModelFacts`)."""

    def __init__(self, engine: Any, worker: EngineWorker) -> None:
        super().__init__()
        self.worker = worker
        self.tokenizer = engine.tokenizer
        self.eos_ids = engine.eos_ids
        self.vocab_size = engine.vocab_size
        self._engine = engine
        self.cancelled = threading.Event()
        self._pinned: set[str] = set()

    @property
    def reuses_prefixes(self) -> bool:
        return self._engine.reuses_prefixes

    def stats(self) -> EngineStats:
        return self._engine.stats()

    def _start(self, request: Request) -> None:
        if self.cancelled.is_set():
            raise ValueError("the client disconnected; the run was stopped")
        rid = request.rid
        if request.pin:
            self._pinned.add(rid)
        try:
            self.worker.submit(replace(request, on_finish=lambda output: self._done(rid, output)))
        except (Overloaded, Unavailable) as exc:
            raise ValueError(f"the server cannot take it: {exc}") from None

    def unpin(self, rid: str) -> None:
        if rid in self._pinned:
            self._pinned.discard(rid)
            self.worker.unpin(rid)

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            rids = list(self._callbacks)
        for rid in rids:
            self.worker.abort(rid)


def run_plan_stream(server: Server, body: dict[str, Any], http: HTTPRequest) -> AsyncIterator[str]:
    """Check the body now (a bad plan is a 400 before any row runs); then stream the rows."""
    from lmc.plan.errors import PlanError
    from lmc.plan.file import Plan
    from lmc.runtime.executor.execute import RunOptions
    from lmc.runtime.executor.inputs import jobs_from_rows

    rows = body.get("rows")
    if not isinstance(rows, list):
        raise APIError(400, "'rows' must be an array of input objects", "rows")
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise APIError(400, "'seed' must be an integer", "seed")
    try:
        plan = Plan.from_json(body.get("plan"))
    except (PlanError, ValueError, TypeError, KeyError) as exc:
        raise APIError(400, f"'plan' is not a valid plan: {exc}", "plan") from None
    if plan.has_host_calls:
        raise APIError(400, "'plan' calls Python functions (host calls), which would run code on the server: "
                            "run it with `lmc run` where its program file is", "plan")
    if plan.needs_sources:
        try:
            plan.check_sources()
        except (PlanError, OSError) as exc:
            raise APIError(400, f"'plan' cannot run here: {exc}", "plan") from None
    return _stream(server, plan, list(jobs_from_rows(rows)), RunOptions(seed=seed), http)


async def _stream(server: Server, plan: Any, jobs: list[Any], options: Any, http: HTTPRequest) -> AsyncIterator[str]:
    from lmc.runtime.executor.execute import execute

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue()
    engine = WorkerEngine(server.engine, server.worker)

    def on_result(result: Any) -> None:
        line = json.dumps({"index": result.index, **result.record()}) + "\n"
        loop.call_soon_threadsafe(lines.put_nowait, line)

    def run() -> None:
        try:
            execute(engine, plan, jobs, on_result, options)
        except Exception as exc:  # the run as a whole failed: say so as the last line
            error = {"error": {"type": type(exc).__name__, "message": str(exc)}}
            loop.call_soon_threadsafe(lines.put_nowait, json.dumps(error) + "\n")
        loop.call_soon_threadsafe(lines.put_nowait, None)

    thread = threading.Thread(target=run, name="lmc-plan-run", daemon=True)
    thread.start()
    try:
        while True:
            try:
                line = await asyncio.wait_for(lines.get(), 0.25)
            except asyncio.TimeoutError:
                if await http.is_disconnected():
                    return
                continue
            if line is None:
                return
            yield line
    finally:
        engine.cancel()
