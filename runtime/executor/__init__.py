"""The plan executor: rows of a plan as coroutines over the engine, results streamed in order.

Entry points:
- `run_file(engine, plan, "data.jsonl", "out.jsonl", resume=..., max_rows=...)`: `lmc run`.
- `execute(engine, plan, jobs, on_result, RunOptions(...))`: rows in, `RowResult`s out as they
  finish (any order), on lmc's Engine or anything that is an `EngineLike` (engine_like.py).
- `run_plan(plan, rows, progress=..., runtime=...)`: `program.run` / `run_batch` (lmc/api.py
  compiles), a `ProgramState` per row in input order.

Modules, in the order data flows: inputs (JSONL rows) -> execute (order, shared set-up) ->
driver (many rows over one engine) -> row (one row's coroutines; prompt, constraints, pins,
awaits) -> results -> output (ordered, resumable out.jsonl); metrics, stats, progress report.
"""

from lmc.runtime.executor.execute import RunOptions, execute
from lmc.runtime.executor.file_run import RunSummary, run_file
from lmc.runtime.executor.program_api import ProgramState, RowFailed, run_plan
from lmc.runtime.executor.results import RowFailure, RowResult

__all__ = [
    "ProgramState", "RowFailed", "RowFailure", "RowResult", "RunOptions", "RunSummary", "execute",
    "run_file", "run_plan",
]
