"""What a person watching `lmc run` sees: a progress bar on stderr, then a summary table."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.stats import since, snapshot

REFRESH_S = 0.25


class RunProgress:
    """Rows done of the total, generated tokens per second and the cache hit rate so far."""

    def __init__(self, total: int, engine: Any, console: Console | None = None, enabled: bool = True) -> None:
        self.engine = engine
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.start = snapshot(engine)
        self.started = time.perf_counter()
        self._last = 0.0
        self._bar = Progress(
            TextColumn("[bold]rows"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
        )
        self._task = self._bar.add_task("rows", total=total, rate="")

    def __enter__(self) -> RunProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.step(force=True)
        self._bar.stop()

    def row(self, result: RowResult) -> None:
        self._bar.advance(self._task)
        self.step()

    def step(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._last < REFRESH_S):
            return
        self._last = now
        stats = since(self.engine, self.start)
        elapsed = max(now - self.started, 1e-9)
        rate = (f"gen {stats.decode_tokens / elapsed:,.0f} tok/s  prefill {stats.prefill_tokens / elapsed:,.0f} tok/s"
                f"  cache hit {stats.hit_rate:.0%}")
        self._bar.update(self._task, rate=rate)


def summary_table(summary: dict[str, Any]) -> Table:
    """The final table of a run (from `RunSummary.to_json()`)."""
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
    table.add_row("cache hit rate", f"{cache['measured_hit_rate']:.1%} of all prompt tokens")
    predicted = cache.get("predicted_hit_rate")
    if predicted is not None:
        table.add_row("  vs the compiler", f"{cache['modeled_hit_rate']:.1%} measured, {predicted:.1%} predicted")
    parallel = summary.get("data_parallel")
    if parallel is not None:
        table.add_row("data parallel", f"{parallel['workers']} workers ({parallel['policy']}): prefill "
                      f"{parallel['measured_prefill_tokens']:,} tokens, {parallel['predicted_prefill_tokens']:,} predicted")
    if summary.get("interrupted"):
        table.add_row("interrupted", "yes: rerun with --resume to finish")
    return table
