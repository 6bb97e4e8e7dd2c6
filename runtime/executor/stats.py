"""Engine counters over one run: the difference of two `EngineStats` snapshots."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from lmc.runtime.engine import EngineStats


def snapshot(engine: Any) -> EngineStats:
    """A copy of the engine's counters now (`stats()` returns a live object)."""
    return replace(engine.stats())


def since(engine: Any, start: EngineStats) -> EngineStats:
    now = engine.stats()
    return EngineStats(**{f.name: getattr(now, f.name) - getattr(start, f.name) for f in fields(EngineStats)})
