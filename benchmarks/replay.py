"""The engine alone: the request stream an executor run sent, replayed straight into an engine.

`Recorder` stands in for the engine during a run and notes, for every `submit` and `unpin`, how
many steps the engine had taken before it; its `recording()` keeps that and the outputs, not the
engine (whose KV memory the next engine needs). `replay` sends the same requests (callbacks dropped)
to a fresh engine at the same step counts and steps it to the end, with no executor in between.
The engine is deterministic given its inputs, so the replay forms the same batches and yields the
same outputs (`Replay.same` checks every request's ids and cache hit): the difference between the two wall
times is what the executor costs on top of the engine. `Recorder.engine_s` (time inside the engine's
calls) also gives that cost from the run alone, as its wall time minus `engine_s`, which a noisy
machine's forward times do not blur; `engine_cpu_s` is the calling thread's CPU time inside them,
so the executor's CPU time (the thread's, less that) holds even on a machine other jobs share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from lmc.runtime.engine import Engine, EngineStats
from lmc.runtime.request import Request, RequestOutput


@dataclass(frozen=True)
class Event:
    """`request` submitted, or `unpin` released, after the engine's `step`-th step."""

    step: int
    request: Request | None = None
    unpin: str | None = None


@dataclass
class Recorder:
    """An Engine that notes what it is asked and when; everything else passes through."""

    engine: Engine
    events: list[Event] = field(default_factory=list)
    handles: list[Any] = field(default_factory=list)
    steps: int = 0
    engine_s: float = 0.0  # inside submit, step and unpin (the executor's callbacks from a step included)
    engine_cpu_s: float = 0.0  # this thread's CPU time there

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    @property
    def reuses_prefixes(self) -> bool:
        return self.engine.reuses_prefixes

    def submit(self, request: Request) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        handle = self.engine.submit(request)
        self.engine_s += time.perf_counter() - started
        self.engine_cpu_s += time.thread_time() - cpu
        self.events.append(Event(self.steps, request))
        self.handles.append(handle)
        return handle

    def unpin(self, rid: str) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        self.engine.unpin(rid)
        self.engine_s += time.perf_counter() - started
        self.engine_cpu_s += time.thread_time() - cpu
        self.events.append(Event(self.steps, unpin=rid))

    def step(self) -> list[RequestOutput]:
        self.steps += 1
        started, cpu = time.perf_counter(), time.thread_time()
        outputs = self.engine.step()
        self.engine_s += time.perf_counter() - started
        self.engine_cpu_s += time.thread_time() - cpu
        return outputs

    def has_work(self) -> bool:
        return self.engine.has_work()

    def stats(self) -> EngineStats:
        return self.engine.stats()

    def recording(self) -> Recording:
        """The stream without the executor's callbacks, which would keep its driver (and so the
        engine and its KV memory) alive."""
        events = [replace(e, request=_bare(e.request)) if e.request is not None else e for e in self.events]
        return Recording(events, [h.output for h in self.handles])


@dataclass(frozen=True)
class Recording:
    events: list[Event]
    outputs: list[RequestOutput | None]  # of the submitted requests, in order


@dataclass(frozen=True)
class Replay:
    wall_s: float
    cpu_s: float
    same: bool  # every request's output ids and cache hit equal the recorded run's


def replay(engine: Engine, recording: Recording) -> Replay:
    """Feed the recorded stream to `engine` (fresh, same config) and time it to the last step."""
    events = recording.events
    handles = []
    started, cpu = time.perf_counter(), time.process_time()
    steps, i = 0, 0
    while i < len(events) or engine.has_work():
        while i < len(events) and events[i].step <= steps:
            event = events[i]
            if event.request is not None:
                handles.append(engine.submit(event.request))
            else:
                engine.unpin(event.unpin or "")
            i += 1
        if engine.has_work():
            engine.step()
        steps += 1
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    same = _outcomes([h.output for h in handles]) == _outcomes(recording.outputs)
    return Replay(wall, cpu, same)


def _bare(request: Request) -> Request:
    """The request without the executor's callbacks."""
    return replace(request, on_token=None, on_finish=None)


def _outcomes(outputs: list[RequestOutput | None]) -> list[tuple[Any, ...] | None]:
    """What each request got: its ids and how much of its prompt the cache held (which shows a
    batch formed differently even where the ids agree, e.g. prefill-only requests)."""
    return [None if o is None else (o.output_ids, o.finish_reason, o.cached_tokens) for o in outputs]
