"""`lmc run`: a plan over a JSONL file of inputs, on lmc's engine, to out.jsonl."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lmc.cli.engine_options import engine_options
from lmc.cli.log_level import LogLevel
from lmc.runtime.config import EngineConfig


@engine_options
def run_cmd(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="A plan.json written by `lmc compile`.")],
    inputs: Annotated[Path, typer.Option("--inputs", "-i", metavar="FILE", help="data.jsonl: one JSON object of inputs per line.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Where rows go, one line each, in input order.")] = Path("out.jsonl"),
    resume: Annotated[bool, typer.Option("--resume", help="Keep the rows an earlier run of this plan and these inputs finished; run only the rest.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over: overwrite OUTPUT even if it holds an unfinished or another run.")] = False,
    metrics: Annotated[Path | None, typer.Option(metavar="FILE", help="Write per-node timings and predicted vs measured cache reuse here.")] = None,
    max_rows: Annotated[int | None, typer.Option("--max-rows", min=1, metavar="N", help="Run only the first N rows.")] = None,
    max_active_rows: Annotated[int, typer.Option("--max-active-rows", min=1, metavar="N", help="Rows in flight at once (bounds memory).")] = 128,
    max_loop_iterations: Annotated[int | None, typer.Option("--max-loop-iterations", min=1, metavar="N", help="Fail a row whose dynamic `while` loop runs more often (default: the plan's, 64).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress on stderr.")] = True,
    backend: Annotated[str, typer.Option(metavar="local|openai", help="lmc's own engine, or an OpenAI-compatible endpoint.")] = "local",
    base_url: Annotated[str | None, typer.Option("--base-url", metavar="URL", help="The endpoint of --backend openai, e.g. http://127.0.0.1:30000/v1.")] = None,
    api_key_env: Annotated[str | None, typer.Option("--api-key-env", metavar="VAR", help="Environment variable holding the endpoint's API key.")] = None,
    tokenizer: Annotated[str | None, typer.Option(metavar="NAME|DIR", help="--backend openai: the local tokenizer's model (default --model).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, metavar="N", help="--backend openai: calls in flight at once.")] = 16,
    num_api_spec_tokens: Annotated[int, typer.Option("--num-api-spec-tokens", min=0, metavar="N", help="--backend openai: speculative execution, at least this many tokens per greedy gen call (0: off).")] = 0,
    data_parallel: Annotated[int, typer.Option("--data-parallel", min=1, metavar="N", help="Engine worker processes (one per GPU; CPU cores split evenly); rows placed by the plan's prefix tree.")] = 1,
    placement: Annotated[str, typer.Option(metavar="planned|round-robin", help="With --data-parallel: shared prefixes together and balanced, or round-robin.")] = "planned",
    ray: Annotated[bool, typer.Option("--ray", help="Run the --data-parallel workers as Ray actors (pip install 'lmc[ray]').")] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", metavar="ADDR", help="With --ray: the cluster to join (default: a local one).")] = None,
    log_level: LogLevel = None,
    *,
    engine: EngineConfig,
) -> None:
    """Run PLAN over every row of --inputs and write one JSON line per row to --output.

    A row that fails (bad JSON, a missing or mistyped field, a prompt too long for the model, an
    error inside the row) gets {"id", "error"} and the others go on; the exit status is then 1.
    Every finished row is journaled at once (OUTPUT.lmc-journal); Ctrl-C, SIGTERM and SIGHUP
    leave OUTPUT complete up to the first unfinished row and exit with 130, 143 and 129;
    --resume finishes the rest, even after a kill."""
    from lmc.plan.errors import PlanError
    from lmc.plan.file import Plan
    from lmc.runtime.executor.execute import RunOptions
    from lmc.runtime.executor.file_run import open_output, run_rows
    from lmc.runtime.executor.output_lock import OutputLocked
    from lmc.runtime.executor.progress import summary_table
    from lmc.runtime.executor.run_output import OutputRefused
    from lmc.runtime.openai_backend import OpenAI
    from lmc.runtime.parallel.placement import POLICIES

    console = Console(stderr=True)
    try:
        plan = Plan.load(plan_path)
        if plan.needs_sources:
            plan.check_sources()  # a stale program is refused before any row runs
        if not inputs.is_file():
            raise FileNotFoundError(f"--inputs {inputs} does not exist")
        if backend not in ("local", "openai"):
            raise ValueError(f"--backend must be local or openai, got {backend!r}")
        if backend == "openai" and base_url is None:
            raise ValueError("--backend openai needs --base-url")
        if placement not in POLICIES:
            raise ValueError(f"--placement must be one of {', '.join(POLICIES)}, got {placement!r}")
        if backend == "openai" and data_parallel > 1:
            raise ValueError("--data-parallel runs lmc's own engines; it does not apply to --backend openai")
        if ray_address is not None and not ray:
            raise ValueError("--ray-address needs --ray")
        if backend == "openai" and ray:
            raise ValueError("--ray runs lmc's own engines; it does not apply to --backend openai")
        if engine.tensor_parallel > 1 and (backend == "openai" or data_parallel > 1 or ray):
            raise ValueError("--tensor-parallel runs one lmc engine over several processes; it does not combine "
                             "with --backend openai, --data-parallel or --ray yet")
        out = open_output(plan, inputs, output, model=engine.model, seed=engine.seed, resume=resume, force=force,
                          max_rows=max_rows)
    except (PlanError, OSError, ValueError, OutputRefused, OutputLocked) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        if backend == "openai":
            runner = OpenAI(engine.model, base_url, api_key_env=api_key_env, tokenizer=tokenizer,
                            concurrency=concurrency, num_api_spec_tokens=num_api_spec_tokens).engine
        else:
            runner = _start_engine(engine, data_parallel, placement, console, progress, ray, ray_address)
    except (OSError, ValueError) as exc:
        out.close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BaseException:
        out.close()
        raise
    options = RunOptions(max_active_rows=max_active_rows, seed=engine.seed, max_loop_iterations=max_loop_iterations)
    summary = run_rows(runner, plan, out, options=options, show_progress=progress, predict=metrics is not None)
    report = summary.to_json()
    if backend == "local" and data_parallel == 1 and not ray:
        runner.close()  # tensor-parallel ranks stop
    if backend == "openai":
        runner.close()
        report["api"] = asdict(runner.api)
        typer.echo(f"api: {json.dumps(report['api'])}", err=True)
    console.print(summary_table(report))
    if metrics is not None:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps(report, indent=2) + "\n")
    if summary.interrupted:
        typer.echo(f"interrupted by {report['signal']}: every finished row is in {output} (in input order up to the "
                   "first unfinished one) or its journal; rerun with --resume to finish", err=True)
        raise typer.Exit(summary.exit_code)
    if summary.failed:
        shown = ", ".join(json.dumps(i) for i in summary.failed_ids[:5])
        more = ", ..." if summary.failed > 5 else ""
        typer.echo(f"{summary.failed} of {summary.total} rows failed ({shown}{more}); see {output}", err=True)
        raise typer.Exit(1)


def _start_engine(config: EngineConfig, workers: int, placement: str, console: Console, progress: bool,
                  ray: bool = False, ray_address: str | None = None) -> Any:
    """The local engine (or data-parallel pool), each start-up phase on its own line."""
    from lmc.runtime.engine import Engine
    from lmc.runtime.executor.progress import phase
    from lmc.runtime.model_loader import load_model
    from lmc.runtime.parallel.data_parallel import DataParallel

    if ray:
        from lmc.runtime.parallel.ray_workers import RayActors

        with phase(console, f"joining Ray ({ray_address or 'local'}) for {workers} engine actors", progress):
            return DataParallel(config, workers, placement, launcher=RayActors(ray_address))
    if workers > 1:
        with phase(console, f"starting {workers} engine workers: loading {config.model} on {config.device}, "
                            "building kernels and the KV cache", progress):
            return DataParallel(config, workers, placement)
    if config.tensor_parallel > 1:  # every rank loads its copy at once
        with phase(console, f"starting {config.tensor_parallel} tensor-parallel ranks: loading {config.model} on "
                            f"{config.device}, building kernels and the KV cache", progress):
            return Engine(config)
    with phase(console, f"loading {config.model} on {config.device}", progress):
        loaded = load_model(config.model, config.load_format, config.dtype, config.device, config.seed)
    with phase(console, "building kernels (attention backend, graphs) and the KV cache", progress):
        return Engine(config, loaded)
