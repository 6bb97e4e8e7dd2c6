"""The `lmc` command: compile, run, explain and bench LM programs."""

from __future__ import annotations

import typer

import lmc

app = typer.Typer(
    name="lmc",
    help="lmc: compile LM programs ahead of time and run them over data sets on its own runtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
bench_app = typer.Typer(help="Benchmarks: write results as JSON and print a table.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lmc {lmc.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """lmc: compile LM programs ahead of time and run them over data sets on its own runtime."""
