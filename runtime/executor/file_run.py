"""data.jsonl -> out.jsonl through a plan: the whole of `lmc run` but its command line.

Every row is journaled the moment it finishes and out.jsonl grows in input order
(run_output.py); `resume` runs only the rows the journal lacks, after checking they belong to
the same plan and inputs. SIGINT, SIGTERM and SIGHUP stop the run with its output complete up to
the first unfinished row, and report `interrupted` with the signal.
`engine` may be a `DataParallel` pool (it has `run_rows`, used instead of `execute`, and a
`report()`): its workers' rows reach the same journal and in-order writer.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from lmc.plan.errors import RowError
from lmc.plan.file import Plan
from lmc.runtime.executor.constraints import ConstraintCompiler
from lmc.runtime.executor.engine_like import EngineLike
from lmc.runtime.executor.execute import RunOptions, constraint_compiler, execute, predicted_reuse
from lmc.runtime.executor.inputs import RowJob, read_jsonl
from lmc.runtime.executor.interrupts import Interrupted, signals_interrupt
from lmc.runtime.executor.journal import RunStamp
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.progress import RunProgress, phase
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.run_output import RunOutput
from lmc.runtime.executor.stats import since, snapshot
from lmc.words import plural

log = logging.getLogger(__name__)


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
    signum: int | None = None  # the signal that interrupted the run

    @property
    def exit_code(self) -> int:
        """The shell's status for the run: 128 + the signal, 1 when a row failed, else 0."""
        if self.interrupted:
            return 128 + (self.signum or signal.SIGINT)
        return 1 if self.failed else 0
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
            "signal": signal.Signals(self.signum).name if self.signum else None,
            "wall_s": self.wall_s,
            "tokens_per_s": self.engine["decode_tokens"] / max(self.wall_s, 1e-9),
            "rows": {
                "total": self.total,
                "ran": m.rows_done,
                "resumed": self.resumed,
                "ok": m.rows_done - m.rows_failed,
                "failed": m.rows_failed,
                "flagged": m.rows_flagged,
                "flags": dict(m.flags),
            },
            "engine": self.engine,
            "cache": cache,
            "nodes": m.node_table(),
        }
        if self.data_parallel is not None:
            report["data_parallel"] = self.data_parallel
        return report


def open_output(plan: Plan, inputs: Path | str, output: Path | str, *, model: str, seed: int = 0,
                resume: bool = False, force: bool = False, max_rows: int | None = None) -> RunOutput:
    """Read the inputs and open the output (locked, a resume checked) before any model loads."""
    jobs = read_jsonl(inputs, max_rows)
    stamp = RunStamp(plan_sha256(plan), plan.name, model_name(model), seed, len(jobs))
    return RunOutput.open(Path(output), stamp, jobs, resume=resume, force=force)


def run_file(
    engine: Any,
    plan: Plan,
    inputs: Path | str,
    output: Path | str,
    *,
    resume: bool = False,
    force: bool = False,
    max_rows: int | None = None,
    options: RunOptions | None = None,
    show_progress: bool = True,
    predict: bool = False,
) -> RunSummary:
    """Run every row of `inputs` (the first `max_rows`) and write `output` on lmc's `Engine`
    (whose config names the model a resume checks); see the module doc."""
    options = options or RunOptions()
    out = open_output(plan, inputs, output, model=engine.config.model, seed=options.seed, resume=resume,
                      force=force, max_rows=max_rows)
    return run_rows(engine, plan, out, options=options, show_progress=show_progress, predict=predict)


def run_rows(engine: EngineLike, plan: Plan, out: RunOutput, *, options: RunOptions | None = None,
             show_progress: bool = True, predict: bool = False) -> RunSummary:
    """Run the rows `out` still lacks and write them there; closes `out`."""
    todo = out.todo
    console = Console(stderr=True)
    prediction = None
    if predict:
        with phase(console, f"predicting cache reuse of {len(todo):,} rows", show_progress):
            prediction = _prediction(plan, todo, engine)
    run = getattr(engine, "run_rows", None) or partial(
        execute, engine, constraints=_planned_constraints(plan, engine, console, show_progress))
    metrics = RunMetrics()
    failed: list[Any] = []
    start_stats = snapshot(engine)
    started = time.perf_counter()
    stopped: Interrupted | None = None
    try:
        with signals_interrupt(), RunProgress(len(todo), engine, console, enabled=show_progress) as progress:

            def on_result(result: RowResult) -> None:
                if not result.ok:
                    failed.append(result.id)
                out.add(result)
                progress.row(result)

            try:
                run(plan, todo, on_result, options or RunOptions(), progress.step, metrics)
            except Interrupted as exc:
                stopped = exc
            except KeyboardInterrupt:
                stopped = Interrupted(signal.SIGINT)
    finally:
        out.close()
    engine_stats = since(engine, start_stats).as_dict()
    total = len(out.jobs)
    parallel = engine.report() if hasattr(engine, "run_rows") else None
    return RunSummary(plan.name, total, total - len(todo), metrics, engine_stats, time.perf_counter() - started,
                      stopped is not None, prediction, failed, stopped.signum if stopped else None, parallel)


def _planned_constraints(plan: Plan, engine: EngineLike, console: Console,
                         show_progress: bool) -> ConstraintCompiler | None:
    """The plan's constant constraints built for the engine's tokenizer, under a phase line; None
    when the plan has none or they cannot be built here (the rows that use them then say why)."""
    table = plan.graph.meta.get("constraints", {})
    if not table:
        return None
    constraints = constraint_compiler(engine)
    try:
        with phase(console, f"building {plural(len(table), 'constraint')} for the model's tokenizer",
                   show_progress):
            constraints.build_planned(table)
    except (RowError, ValueError) as exc:
        log.warning("the plan's constraints were not built ahead: %s", exc)
    return constraints


def plan_sha256(plan: Plan) -> str:
    return hashlib.sha256(plan.dumps().encode("utf-8")).hexdigest()


def model_name(model: str) -> str:
    """The model as a resume compares it: a local directory by its absolute path."""
    path = Path(model)
    return str(path.resolve()) if path.exists() else model


def _prediction(plan: Plan, jobs: list[RowJob], engine: EngineLike) -> dict[str, Any]:
    p = predicted_reuse(plan, jobs, engine.tokenizer)
    return {
        "hit_rate": p.hit_rate,
        "requests": p.requests,
        "prompt_tokens": p.prompt_tokens,
        "cached_tokens": p.cached_tokens,
        "failed_rows": p.failed_rows,
        "saved_by": p.saved_by,
        "nodes": {node: {"prompt_tokens": r.prompt_tokens, "cached_tokens": r.cached_tokens, "hit_rate": r.hit_rate}
                  for node, r in p.nodes.items()},
        "prefix_groups": [
            {"node": g.node, "scope": g.scope, "tokens": g.tokens, "sharers": g.sharers, "instances": g.instances,
             "saved_tokens": g.saved}
            for g in p.groups
        ],
    }
