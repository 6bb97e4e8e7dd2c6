"""data.jsonl -> out.jsonl through a plan: the whole of `lmc run` but its command line.

Rows stream to the output in input order as they finish; `resume` keeps what an earlier run of
the same inputs already wrote; Ctrl-C writes every finished row, then reports `interrupted`.
`engine` may be a `DataParallel` pool (it has `run_rows`, used instead of `execute`, and a
`report()`): its workers' rows reach the same in-order writer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from lmc.compiler.plan import Plan
from lmc.runtime.executor.execute import RunOptions, execute, predicted_reuse
from lmc.runtime.executor.inputs import RowJob, read_jsonl
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.output import OrderedWriter, Resume, encode_record, scan_output
from lmc.runtime.executor.progress import RunProgress
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.stats import since, snapshot


@dataclass
class RunSummary:
    """What a run did; `to_json()` is the content of `--metrics metrics.json`."""

    plan: str
    total: int
    resumed: int
    metrics: RunMetrics
    engine: dict[str, Any]
    wall_s: float
    interrupted: bool = False
    prediction: dict[str, Any] | None = None
    failed_ids: list[Any] = field(default_factory=list)
    data_parallel: dict[str, Any] | None = None

    @property
    def failed(self) -> int:
        return self.metrics.rows_failed

    def to_json(self) -> dict[str, Any]:
        m = self.metrics
        cache: dict[str, Any] = {
            "measured_hit_rate": self.engine["hit_rate"],  # every request the engine ran
            "modeled_hit_rate": m.modeled_hit_rate,  # the gens/selects the cache model covers
        }
        if self.prediction is not None:
            cache["predicted_hit_rate"] = self.prediction["hit_rate"]
            cache["difference"] = m.modeled_hit_rate - self.prediction["hit_rate"]
            cache["prediction"] = self.prediction
        report = {
            "plan": self.plan,
            "interrupted": self.interrupted,
            "wall_s": self.wall_s,
            "tokens_per_s": self.engine["decode_tokens"] / max(self.wall_s, 1e-9),
            "rows": {
                "total": self.total,
                "ran": m.rows_done,
                "resumed": self.resumed,
                "ok": m.rows_done - m.rows_failed,
                "failed": m.rows_failed,
                "flagged": m.rows_flagged,
            },
            "engine": self.engine,
            "cache": cache,
            "nodes": m.node_table(),
        }
        if self.data_parallel is not None:
            report["data_parallel"] = self.data_parallel
        return report


def run_file(
    engine: Any,
    plan: Plan,
    inputs: Path | str,
    output: Path | str,
    *,
    resume: bool = False,
    max_rows: int | None = None,
    options: RunOptions | None = None,
    show_progress: bool = True,
    predict: bool = False,
) -> RunSummary:
    """Run every row of `inputs` (the first `max_rows`) and write `output`; see the module doc."""
    output = Path(output)
    jobs = read_jsonl(inputs, max_rows)
    found = scan_output(output, jobs) if resume else Resume()
    todo = [j for j in jobs[found.kept_rows:] if j.index not in found.finished]
    prediction = _prediction(plan, todo, engine) if predict else None
    writer = OrderedWriter(output, found.kept_rows, found.keep_bytes)
    metrics = RunMetrics()
    failed: list[Any] = []
    start_stats = snapshot(engine)
    started = time.perf_counter()
    interrupted = False
    try:
        for index, line in found.finished.items():
            writer.put(index, line)
        with RunProgress(len(todo), engine, enabled=show_progress) as progress:

            def on_result(result: RowResult) -> None:
                if not result.ok:
                    failed.append(result.id)
                writer.put(result.index, encode_record(result.record()))
                progress.row(result)

            try:
                run = getattr(engine, "run_rows", None) or partial(execute, engine)
                run(plan, todo, on_result, options or RunOptions(), progress.step, metrics)
            except KeyboardInterrupt:
                interrupted = True
                writer.write_rest()
    finally:
        writer.close()
    engine_stats = since(engine, start_stats).as_dict()
    resumed = len(jobs) - len(todo)
    parallel = engine.report() if hasattr(engine, "run_rows") else None
    return RunSummary(plan.name, len(jobs), resumed, metrics, engine_stats, time.perf_counter() - started,
                      interrupted, prediction, failed, parallel)


def _prediction(plan: Plan, jobs: list[RowJob], engine: Any) -> dict[str, Any]:
    p = predicted_reuse(plan, jobs, engine.tokenizer)
    return {
        "hit_rate": p.hit_rate,
        "requests": p.requests,
        "prompt_tokens": p.prompt_tokens,
        "cached_tokens": p.cached_tokens,
        "failed_rows": p.failed_rows,
        "prefix_groups": [
            {"node": g.node, "scope": g.scope, "tokens": g.tokens, "sharers": g.sharers, "saved_tokens": g.saved}
            for g in p.groups
        ],
    }
