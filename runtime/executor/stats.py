"""Engine counters over one run: the difference of two `EngineStats` snapshots."""

from __future__ import annotations

from dataclasses import fields, replace

from lmc.runtime.engine import EngineStats
from lmc.runtime.executor.engine_like import EngineLike


def snapshot(engine: EngineLike) -> EngineStats:
    """A copy of the engine's counters now (`stats()` returns a live object)."""
    return replace(engine.stats())


def since(engine: EngineLike, start: EngineStats) -> EngineStats:
    now = engine.stats()
    return EngineStats(**{f.name: getattr(now, f.name) - getattr(start, f.name) for f in fields(EngineStats)})
