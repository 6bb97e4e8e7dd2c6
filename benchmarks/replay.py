"""The engine alone: the request stream an executor run sent, replayed straight into an engine.

`Recorder` stands in for the engine during a run and notes, for every `submit` and `unpin`, how
many steps the engine had taken before it. `replay` sends the same requests (callbacks dropped)
to a fresh engine at the same step counts and steps it to the end, with no executor in between.
The engine is deterministic given its inputs, so the replay forms the same batches and yields the
same outputs (`Replay.same` checks every request's ids and cache hit): the difference between the two wall
times is what the executor costs on top of the engine.
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

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    @property
    def reuses_prefixes(self) -> bool:
        return self.engine.reuses_prefixes

    def submit(self, request: Request) -> Any:
        handle = self.engine.submit(request)
        self.events.append(Event(self.steps, request))
        self.handles.append(handle)
        return handle

    def unpin(self, rid: str) -> None:
        self.engine.unpin(rid)
        self.events.append(Event(self.steps, unpin=rid))

    def step(self) -> list[RequestOutput]:
        self.steps += 1
        return self.engine.step()

    def has_work(self) -> bool:
        return self.engine.has_work()

    def stats(self) -> EngineStats:
        return self.engine.stats()


@dataclass(frozen=True)
class Replay:
    wall_s: float
    cpu_s: float
    same: bool  # every request's output ids and cache hit equal the recorded run's


def replay(engine: Engine, recorder: Recorder) -> Replay:
    """Feed `recorder`'s stream to `engine` (fresh, same config) and time it to the last step."""
    events = [replace(e, request=_bare(e.request)) if e.request is not None else e for e in recorder.events]
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
    same = _outputs(handles) == _outputs(recorder.handles)
    return Replay(wall, cpu, same)


def _bare(request: Request) -> Request:
    """The request without the executor's callbacks."""
    return replace(request, on_token=None, on_finish=None)


def _outputs(handles: list[Any]) -> list[tuple[Any, ...] | None]:
    """What a request got: its ids and how much of its prompt the cache held (which shows a
    batch formed differently even where the ids agree, e.g. prefill-only requests)."""
    return [None if (o := h.output) is None else (o.output_ids, o.finish_reason, o.cached_tokens) for h in handles]
