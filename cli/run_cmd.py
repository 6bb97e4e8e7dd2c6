"""`lmc run`: a plan over a JSONL file of inputs, on lmc's engine, to out.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def run_cmd(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="A plan.json written by `lmc compile`.")],
    inputs: Annotated[Path, typer.Option("--inputs", "-i", help="data.jsonl: one JSON object of inputs per line.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where rows go, one line each, in input order.")] = Path("out.jsonl"),
    model: Annotated[str, typer.Option(help="'tiny', a preset (with --load-format dummy) or a local HF directory.")] = "tiny",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    resume: Annotated[bool, typer.Option("--resume", help="Keep the rows OUTPUT already holds; run only the rest.")] = False,
    metrics: Annotated[Path | None, typer.Option(help="Write per-node timings and predicted vs measured cache reuse here.")] = None,
    max_rows: Annotated[int | None, typer.Option("--max-rows", min=1, help="Run only the first N rows.")] = None,
    max_active_rows: Annotated[int, typer.Option("--max-active-rows", min=1, help="Rows in flight at once (bounds memory).")] = 128,
    seed: Annotated[int, typer.Option(help="Seed for sampled gens (per row and gen, independent of batching).")] = 0,
    load_format: Annotated[str, typer.Option("--load-format", help="auto (safetensors) or dummy (random weights).")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, float16 or bfloat16.")] = "auto",
    kv_cache_tokens: Annotated[int | None, typer.Option("--kv-cache-tokens", help="KV cache size in tokens.")] = None,
    radix_cache: Annotated[bool, typer.Option("--radix-cache/--no-radix-cache", help="Reuse KV across requests.")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")] = True,
    data_parallel: Annotated[int, typer.Option("--data-parallel", min=1, help="Engine worker processes (one per GPU; CPU cores split evenly); rows placed by the plan's prefix tree.")] = 1,
    placement: Annotated[str, typer.Option(help="With --data-parallel: planned (shared prefixes together, balanced) or round-robin.")] = "planned",
) -> None:
    """Run PLAN over every row of --inputs and write one JSON line per row to --output.

    A row that fails (bad JSON, a missing or mistyped field, a prompt too long for the model, an
    error inside the row) gets {"id", "error"} and the others go on; the exit status is then 1.
    Ctrl-C writes every finished row and exits with 130; --resume finishes the rest."""
    from lmc.compiler.errors import PlanError
    from lmc.compiler.plan import Plan
    from lmc.runtime.config import EngineConfig
    from lmc.runtime.engine import Engine
    from lmc.runtime.executor.execute import RunOptions
    from lmc.runtime.executor.file_run import run_file
    from lmc.runtime.executor.progress import summary_table
    from lmc.runtime.parallel.data_parallel import DataParallel
    from lmc.runtime.parallel.placement import POLICIES

    console = Console(stderr=True)
    try:
        plan = Plan.load(plan_path)
        if plan.has_dynamic_regions:
            plan.check_sources()  # a stale program is refused before any row runs
        if not inputs.is_file():
            raise FileNotFoundError(f"--inputs {inputs} does not exist")
        config = EngineConfig(model=model, device=device, load_format=load_format, dtype=dtype, seed=seed,
                              kv_cache_tokens=kv_cache_tokens, enable_radix_cache=radix_cache)
        if placement not in POLICIES:
            raise ValueError(f"--placement must be one of {', '.join(POLICIES)}, got {placement!r}")
        engine = Engine(config) if data_parallel == 1 else DataParallel(config, data_parallel, placement)
    except (PlanError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    options = RunOptions(max_active_rows=max_active_rows, seed=seed)
    summary = run_file(engine, plan, inputs, output, resume=resume, max_rows=max_rows, options=options,
                       show_progress=progress, predict=metrics is not None)
    report = summary.to_json()
    console.print(summary_table(report))
    if metrics is not None:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps(report, indent=2) + "\n")
    if summary.interrupted:
        typer.echo(f"interrupted: finished rows are in {output}; rerun with --resume to finish", err=True)
        raise typer.Exit(130)
    if summary.failed:
        shown = ", ".join(json.dumps(i) for i in summary.failed_ids[:5])
        more = ", ..." if summary.failed > 5 else ""
        typer.echo(f"{summary.failed} of {summary.total} rows failed ({shown}{more}); see {output}", err=True)
        raise typer.Exit(1)
