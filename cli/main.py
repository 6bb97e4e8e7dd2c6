"""The `lmc` command: compile, run, explain and bench LM programs."""

from __future__ import annotations

from typing import Annotated

import typer

import lmc
from lmc import log
from lmc.cli.compile_cmd import bench_compile_cmd, compile_cmd
from lmc.cli.explain_cmd import explain_cmd
from lmc.cli.log_level import LogLevel
from lmc.cli.models_cmd import models_app
from lmc.cli.run_cmd import run_cmd
from lmc.cli.serve_cmd import serve_cmd

app = typer.Typer(
    rich_markup_mode=None,  # plain click help: option names never cut, no type noise, 80 columns
    name="lmc",
    help="lmc: compile LM programs ahead of time and run them over data sets on its own runtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
bench_app = typer.Typer(rich_markup_mode=None, help="Benchmarks: write results as JSON and print a table.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(models_app, name="models")
app.command("compile")(compile_cmd)
app.command("explain")(explain_cmd)
bench_app.command("compile")(bench_compile_cmd)
app.command("run")(run_cmd)
app.command("serve")(serve_cmd)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lmc {lmc.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    log_level: str | None = typer.Option(
        None, "--log-level", metavar="|".join(log.LEVELS),
        help=f"Log to stderr from this level on (default: ${log.ENV}, else {log.DEFAULT})."),
) -> None:
    """lmc: compile LM programs ahead of time and run them over data sets on its own runtime."""
    try:
        log.setup(log_level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None


@bench_app.command("run")
def bench_run_cmd(
    model: Annotated[str, typer.Option(help="Model: 'tiny', a preset (with --load-format dummy) or a local HF directory.")] = "tiny",
    rows: Annotated[int, typer.Option(help="Rows of each workload's data file (the first N).")] = 8,
    workload: Annotated[list[str] | None, typer.Option("--workload", "-w", help="Only these examples (repeatable).")] = None,
    transformers: Annotated[bool, typer.Option("--transformers/--no-transformers", help="Include the transformers baseline.")] = True,
    out_dir: Annotated[str, typer.Option(help="Folder for the JSON results (benchmarks/results holds the committed ones).")] = "lmc-bench",
    device: Annotated[str, typer.Option(help="cpu or cuda (results go to run_<device>.json).")] = "cpu",
    load_format: Annotated[str, typer.Option(help="auto (safetensors) or dummy (random weights, presets).")] = "auto",
    system: Annotated[list[str] | None, typer.Option("--system", help="Only these systems (repeatable; both off always runs).")] = None,
    rows_for: Annotated[list[str] | None, typer.Option("--rows-for", help="WORKLOAD=N: rows for one workload (repeatable).")] = None,
    name: Annotated[str | None, typer.Option(help="Results file name (default run_<device>).")] = None,
    tries: Annotated[int, typer.Option(min=1, help="Runs of each system at most, the fastest kept: a CPU run is repeated while the machine is busy.")] = 3,
    log_level: LogLevel = None,
) -> None:
    """Every example end to end: lmc, passes off, cache off, both off, transformers `generate`.

    Beside lmc: "engine alone", lmc's recorded request stream replayed straight into the engine
    (lmc's `overhead` is its wall time over that). Asked for more rows than a data file has, its
    rows repeat under new ids."""
    from lmc.benchmarks.run import bench_run

    sizes = {}
    for item in rows_for or []:
        workload_name, _, count = item.partition("=")
        if not count.isdigit():
            raise typer.BadParameter(f"--rows-for takes WORKLOAD=N, got {item!r}")
        sizes[workload_name] = int(count)
    path = bench_run(model, rows, workload or None, transformers, out_dir, name, device, load_format, system or None, sizes,
                     tries)
    typer.echo(f"results written to {path}")


@bench_app.command("engine")
def bench_engine_cmd(
    model: str = typer.Option("tiny", help="Model: 'tiny', a preset (with --load-format dummy) or a local HF directory."),
    rows: int = typer.Option(64, help="Rows of the few-shot shape."),
    prefix_tokens: int = typer.Option(512, help="Tokens of the prefix every row shares."),
    own_tokens: int = typer.Option(32, help="Tokens of each row's own text."),
    new_tokens: int = typer.Option(8, help="Tokens generated per row."),
    out_dir: str = typer.Option("lmc-bench", help="Folder for the JSON results (benchmarks/results holds the committed ones)."),
    log_level: LogLevel = None,
) -> None:
    """Few-shot shape on the engine: lmc, lmc without radix cache, transformers `generate`."""
    from lmc.benchmarks.engine import FewShotShape, bench_engine

    shape = FewShotShape(rows, prefix_tokens, own_tokens, new_tokens)
    path = bench_engine(model, shape, out_dir)
    typer.echo(f"results written to {path}")


@bench_app.command("gpu")
def bench_gpu_cmd(
    model: str = typer.Option("llama-3-8b", help="A preset shape, loaded with random bf16 weights."),
    attention_backend: str = typer.Option("auto", help="auto | reference | triton | flashinfer."),
    out_dir: str = typer.Option("lmc-bench", help="Folder for the JSON results (benchmarks/results holds the committed ones)."),
    transformers: bool = typer.Option(True, help="Also time transformers on the same shapes."),
    name: str = typer.Option("gpu", help="Results file name (without .json)."),
    log_level: LogLevel = None,
) -> None:
    """Few-shot, decode, prefill and decode-step shapes on a CUDA device, beside transformers."""
    from lmc.benchmarks.gpu import bench_gpu

    path = bench_gpu(model, attention_backend, out_dir, transformers, name)
    typer.echo(f"results written to {path}")


@bench_app.command("cascade")
def bench_cascade_cmd(
    model: str = typer.Option("llama-3-8b", help="A preset shape, loaded with random bf16 weights."),
    out_dir: str = typer.Option("lmc-bench", help="Folder for the JSON results (benchmarks/results holds the committed ones)."),
    repeats: int = typer.Option(2, help="Runs of each engine shape, cascade on and off alternating (best reported)."),
    name: str = typer.Option("cascade", help="Results file name (without .json)."),
    log_level: LogLevel = None,
) -> None:
    """Shared-prefix (cascade) attention on and off: the few-shot shape, its decode step, the kernels."""
    from lmc.benchmarks.cascade import bench_cascade

    path = bench_cascade(model, out_dir, repeats, name)
    typer.echo(f"results written to {path}")


@bench_app.command("constrained")
def bench_constrained_cmd(
    out_dir: str = typer.Option("lmc-bench", help="Folder for the JSON results (benchmarks/results holds the committed ones)."),
    repeats: int = typer.Option(3, help="Cold compiles per case (the median is reported)."),
    decode_rows: int = typer.Option(32, help="Rows of the JSON-extraction decode run (0 skips it)."),
    log_level: LogLevel = None,
) -> None:
    """Constraint compile and mask time against outlines-core and xgrammar, then JSON decoding on
    the tiny model with the compressed FSM's jump-forward on and off."""
    from lmc.benchmarks.constrained import bench_constrained
    from lmc.benchmarks.constrained_decode import bench_constrained_decode

    typer.echo(f"results written to {bench_constrained(out_dir, repeats)}")
    if decode_rows:
        typer.echo(f"results written to {bench_constrained_decode(out_dir, decode_rows)}")


@bench_app.command("serve")
def bench_serve_cmd(
    model: str = typer.Option("tiny", help="Model: 'tiny', a preset (with --load-format dummy) or a local HF directory."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    load_format: str = typer.Option("auto", "--load-format", help="auto (safetensors) or dummy (random weights)."),
    clients: Annotated[list[int] | None, typer.Option("--clients", help="Concurrency levels (repeatable; default 1 8 32 128).")] = None,
    requests_per_client: int = typer.Option(2, help="Requests per client at each level."),
    min_requests: int = typer.Option(16, help="At least this many requests per level."),
    prefix_tokens: int = typer.Option(256, help="Tokens of the prefix every request shares."),
    own_tokens: int = typer.Option(32, help="Tokens of each request's own."),
    new_tokens: int = typer.Option(16, help="Tokens generated per request (EOS ignored)."),
    port: int = typer.Option(30123, help="Port of the benchmarked server (loopback)."),
    out_dir: str = typer.Option("lmc-bench", help="Folder for the JSON results."),
    name: str = typer.Option("serve_cpu", help="Results file name (without .json)."),
    engine_process: bool = typer.Option(False, "--engine-process", help="Serve with the engine in its own process."),
    data_parallel: int = typer.Option(1, "--data-parallel", min=1, help="Serve with this many engine processes."),
    log_level: LogLevel = None,
) -> None:
    """`lmc serve` under concurrent streaming clients (throughput, p50/p99 time to first token),
    beside the in-process engine on the same requests (the server's overhead as a ratio)."""
    from lmc.benchmarks.serve import LEVELS, bench_serve

    path = bench_serve(model, device, load_format, tuple(clients or LEVELS), requests_per_client, min_requests,
                       prefix_tokens, own_tokens, new_tokens, port, out_dir, name,
                       ("--engine-process",) * engine_process + ("--data-parallel", str(data_parallel)))
    typer.echo(f"results written to {path}")
