"""What a person watching `lmc run` sees: a phase line while it starts, a progress line that moves
from the first step (rows, requests, recent throughput, cache hit rate, ETA), then a summary.

Throughput is measured over the last `WINDOW_S` seconds, not the whole run, so that a run that
slows down shows it and one that only filled its batch does not look slower and slower.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text as RichText

from lmc.runtime.executor.engine_like import EngineLike
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.stats import since, snapshot
from lmc.words import plural

REFRESH_S = 0.25
WINDOW_S = 10.0
FLAGS = {  # a row flag's type -> (summary label, what it means)
    "max_tokens": ("flagged: hit max_tokens", "a gen stopped at its token limit, so its text may be cut"),
    "constraint_unsatisfied": ("flagged: constraint unmet",
                               "a gen hit max_tokens before its constraint was complete"),
}


class Window:
    """The rate of a growing counter over the last `seconds` (samples older than that drop out)."""

    def __init__(self, seconds: float = WINDOW_S) -> None:
        self.seconds = seconds
        self.samples: deque[tuple[float, float]] = deque()

    def rate(self, now: float, total: float) -> float:
        self.samples.append((now, total))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.seconds:
            self.samples.popleft()
        start, count = self.samples[0]
        return (total - count) / (now - start) if now > start else 0.0


def eta(done: int, total: int, elapsed: float) -> str:
    """Time left at the rate rows finished so far; '–' before the first row is done."""
    if done == 0 or done >= total:
        return "–" if done == 0 else "0:00"
    left = int(elapsed / done * (total - done))
    return f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}" if left >= 3600 else f"{left // 60}:{left % 60:02d}"


@contextmanager
def phase(console: Console, text: str, enabled: bool = True) -> Iterator[None]:
    """A spinner with `text` while the block runs, then a line saying how long it took."""
    if not enabled:
        yield
        return
    started = time.perf_counter()
    with console.status(f"{text}…"):
        yield
    console.print(f"[green]✓[/green] {text} ({time.perf_counter() - started:.1f} s)", highlight=False)


class RunProgress:
    """Rows done of the total; requests finished of those submitted (req); generated and prefill
    tokens per second over the last `WINDOW_S`; the cache hit rate so far; the ETA. It fits in
    80 columns."""

    def __init__(self, total: int, engine: EngineLike, console: Console | None = None, enabled: bool = True) -> None:
        self.engine = engine
        self.total = total
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.start = snapshot(engine)
        self.started = time.perf_counter()
        self.done = 0
        self._last = 0.0
        self._gen = Window()
        self._prefill = Window()
        self._bar = Progress(
            TextColumn("[bold]rows"),
            BarColumn(bar_width=8),
            MofNCompleteColumn(),
            TextColumn("{task.fields[line]}"),
            console=self.console,
            disable=not enabled,
        )
        self._task = self._bar.add_task("rows", total=total, line="starting")

    def __enter__(self) -> RunProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.step(force=True)
        self._bar.stop()

    def row(self, result: RowResult) -> None:
        self.done += 1
        self._bar.advance(self._task)
        self.step()

    def line(self, now: float) -> str:
        """The text beside the bar (public so that tests can read what a person would see)."""
        stats = since(self.engine, self.start)
        gen = self._gen.rate(now, stats.decode_tokens)
        prefill = self._prefill.rate(now, stats.prefill_tokens)
        return (f"req {stats.finished:,}/{stats.requests:,} · gen {gen:,.0f} tok/s · prefill {prefill:,.0f} tok/s"
                f" · hit {stats.hit_rate:.0%} · ETA {eta(self.done, self.total, now - self.started)}")

    def step(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._last < REFRESH_S):
            return
        self._last = now
        self._bar.update(self._task, line=self.line(now))


def summary_table(summary: dict[str, Any]) -> Group:
    """The final table of a run (from `RunSummary.to_json()`), then a line per kind of flag."""
    rows = summary["rows"]
    engine = summary["engine"]
    table = Table(title=f"lmc run: {summary['plan']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("rows", f"{rows['total']} ({rows['ok']} ok, {rows['failed']} failed, {rows['flagged']} flagged, "
                  f"{rows['resumed']} from an earlier run)")
    table.add_row("wall time", f"{summary['wall_s']:.2f} s ({rows['ran'] / max(summary['wall_s'], 1e-9):.2f} rows/s)")
    table.add_row("prompt tokens", f"{engine['prompt_tokens']:,} ({engine['cached_tokens']:,} from the cache)")
    table.add_row("generated tokens", f"{engine['decode_tokens']:,} ({summary['tokens_per_s']:,.0f} tok/s)")
    cache = summary["cache"]
    table.add_row("cache hit rate", f"{cache['measured_hit_rate']:.1%} of all prompt tokens (measured)")
    predicted = cache.get("predicted_hit_rate")
    if predicted is not None:
        table.add_row("  predicted", f"{predicted:.1%} by the cache model (on its requests: {cache['modeled_hit_rate']:.1%})")
    parallel = summary.get("data_parallel")
    if parallel is not None:
        table.add_row("data parallel", f"{parallel['workers']} workers ({parallel['policy']}): prefill "
                      f"{parallel['measured_prefill_tokens']:,} tokens, {parallel['predicted_prefill_tokens']:,} predicted")
    if summary.get("interrupted"):
        table.add_row("interrupted", "yes: rerun with --resume to finish")
    notes = []
    for kind, count in sorted(rows.get("flags", {}).items()):
        label, meaning = FLAGS.get(kind, (f"flagged: {kind}", kind))
        notes.append(RichText(f"{label}: {plural(count, 'row')} ({meaning}; see meta.flags)", style="yellow"))
    return Group(table, *notes)
