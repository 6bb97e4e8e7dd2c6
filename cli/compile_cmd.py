"""`lmc compile`: programs in a .py file to plan.json files, with a short summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lmc.cli.log_level import LogLevel
from lmc.plan.options import PASS_NAMES


def compile_cmd(
    path: Annotated[Path, typer.Argument(help="A .py file holding one or more @lmc.program functions.")],
    program: Annotated[str | None, typer.Option("--program", "-p", help="Compile only the program with this name.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o",
        help="A .json file (one program; default ./<program>.plan.json) or a directory that "
             "gets one <program>.plan.json per program (needed when the file has several).",
    )] = None,
    disable_pass: Annotated[list[str] | None, typer.Option(
        "--disable-pass", help=f"Turn a pass off (repeatable): {', '.join(PASS_NAMES)}.",
    )] = None,
    log_level: LogLevel = None,
) -> None:
    """Compile the programs in PATH to plan.json files and print what the compiler found.
    A program the compiler cannot analyse gets its line, a caret and what to write instead
    (exit status 1)."""
    from lmc.compiler.api import compile as compile_program
    from lmc.compiler.loader import load_programs
    from lmc.plan.errors import CompileError, PlanError
    from lmc.plan.options import CompileOptions

    try:
        options = CompileOptions(tuple(disable_pass or ()))
        programs = load_programs(path)
        load_seconds = _preload_grammars()
        chosen = _choose(programs, program, path)
        targets = _targets(chosen, output)
        rows = []
        for prog, target in zip(chosen, targets):
            plan = compile_program(prog, options)
            plan.save(target)
            rows.append(_summary(plan, target))
    except (CompileError, PlanError, ValueError, OSError) as exc:
        typer.echo(str(exc), err=True)  # plain: the caret must stay under the column it marks
        raise typer.Exit(1) from None
    _print(rows, load_seconds)


def _choose(programs: dict[str, Any], name: str | None, path: Path) -> list[Any]:
    from lmc.plan.errors import CompileError

    if not programs:
        raise CompileError(f"{path} defines no @lmc.program", hint="decorate the function with @lmc.program")
    if name is None:
        return list(programs.values())
    if name not in programs:
        raise CompileError(f"{path} has no program named {name!r}", hint=f"its programs: {', '.join(programs)}")
    return [programs[name]]


def _targets(programs: list[Any], output: Path | None) -> list[Path]:
    if len(programs) == 1:
        if output is not None and (output.is_dir() or not output.suffix):
            return [output / f"{programs[0].name}.plan.json"]
        return [output or Path(f"{programs[0].name}.plan.json")]
    if output is not None and output.suffix == ".json":
        raise ValueError(f"the file has {len(programs)} programs ({', '.join(p.name for p in programs)}): "
                         "give -o a directory, or pick one with --program NAME")
    folder = output or Path(".")
    return [folder / f"{p.name}.plan.json" for p in programs]


def _summary(plan: Any, target: Path) -> dict[str, Any]:
    stats = plan.stats()
    return {
        "program": plan.name,
        "nodes": stats["nodes"],
        "gens": stats["gens"] + stats["selects"],
        "forks": stats["forks"],
        "prefixes": stats["shared_prefixes"],
        "constraints": stats["constraints"],
        "dynamic": stats["dynamic_regions"],
        "calls": stats["host_calls"],
        "ms": f"{plan.compile_seconds * 1000:.0f}",
        "plan": str(target),
    }


def _preload_grammars() -> float | None:
    """Import lmc.grammars (numpy, lark; not torch) before timing, so the table shows compile time."""
    start = time.perf_counter()
    try:
        import lmc.grammars  # noqa: F401
    except ImportError:
        return None
    return time.perf_counter() - start


def _print(rows: list[dict[str, Any]], load_seconds: float | None) -> None:
    console = Console()
    table = Table(title="lmc compile", title_justify="left")
    columns = [c for c in rows[0] if c != "plan"]
    for col in columns:
        table.add_column(col, justify="left" if col == "program" else "right")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)
    for row in rows:
        console.print(f"wrote {row['plan']}", highlight=False)
    if load_seconds is not None and load_seconds > 0.05:
        console.print(f"[dim](loading lmc.grammars took {load_seconds:.1f} s before compiling)[/dim]")


def bench_compile_cmd(
    repeats: Annotated[int, typer.Option(help="Compiles per program (the first pays for cold caches).")] = 5,
    out_dir: Annotated[str, typer.Option(help="Folder for the JSON results (benchmarks/results holds the committed ones).")] = "lmc-bench",
    log_level: LogLevel = None,
) -> None:
    """Compile time of every example program (target: under 0.5 s each)."""
    from lmc.benchmarks.compile import bench_compile

    path = bench_compile(out_dir, repeats)
    typer.echo(f"results written to {path}")
