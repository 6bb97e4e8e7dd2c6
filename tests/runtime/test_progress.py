"""What `lmc run` shows while it runs: windowed rates, ETA, plurals, the requests line."""

from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console

from lmc.runtime.engine import EngineStats
from lmc.runtime.executor.progress import RunProgress, Window, eta
from lmc.words import plural


def test_window_rate_follows_the_last_ten_seconds():
    window = Window(10.0)
    total = 0.0
    rate = 0.0
    for t in range(31):  # 100 tok/s for 20 s, then 10 tok/s
        total += 100 if t <= 20 else 10
        rate = window.rate(float(t), total)
        if t == 20:
            assert rate == 100.0
    assert rate == 10.0  # a whole-run average would still say 70
    assert (total - 100) / 30 == 70.0


def test_eta_and_plurals():
    assert eta(0, 32, 120.0) == "–"
    assert eta(8, 32, 10.0) == "0:30"
    assert eta(1, 400, 10.0) == "1:06:30"
    assert eta(32, 32, 99.0) == "0:00"
    assert [plural(1, "fork"), plural(2, "fork"), plural(1, "prefix", "prefixes"), plural(3, "prefix", "prefixes")] == [
        "1 fork", "2 forks", "1 prefix", "3 prefixes"]


def test_the_line_moves_before_any_row_finishes():
    stats = EngineStats()
    engine = SimpleNamespace(stats=lambda: stats)
    progress = RunProgress(32, engine, Console(file=open("/dev/null", "w")), enabled=True)  # noqa: SIM115
    first = progress.line(0.0)
    stats.requests, stats.finished, stats.decode_tokens, stats.prefill_tokens, stats.cached_tokens = 40, 12, 500, 300, 100
    later = progress.line(5.0)
    assert first.startswith("req 0/0 ·") and first.endswith("ETA –")
    assert later == "req 12/40 · gen 100 tok/s · prefill 60 tok/s · hit 25% · ETA –"
    assert progress.done == 0
