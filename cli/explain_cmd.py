"""`lmc explain`: what a plan will do, and with data, how much the cache is predicted to save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from lmc.cli.log_level import LogLevel

if TYPE_CHECKING:
    from lmc.plan.cache_model import Prediction
    from lmc.plan.ir import Graph

FORMATS = ("text", "dot", "svg", "html")


def explain_cmd(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="A plan.json written by `lmc compile`.")],
    inputs: Annotated[Path | None, typer.Option(
        "--inputs", metavar="FILE",
        help="data.jsonl: add the cache plan (shared prefixes, tokens saved, hit rate).")] = None,
    metrics: Annotated[Path | None, typer.Option(
        "--metrics", metavar="FILE",
        help="metrics.json of `lmc run --metrics`: measured reuse beside the prediction (html).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="|".join(FORMATS), help="What to write.")] = "text",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Write here (default: stdout for text and dot, PLAN's name with .svg/.html).")] = None,
    model: Annotated[str, typer.Option(
        "--model", metavar="NAME|DIR", help="Whose tokenizer counts tokens and whose chat template "
        "the pictures show: tiny, a preset, a HF directory, or none (word pieces, <role> markers).")] = "tiny",
    log_level: LogLevel = None,
) -> None:
    """Show a plan: its graph (shared prefixes, forks, gens, constraints, dynamic regions) and,
    with --inputs, the predicted cache reuse over all rows; with --metrics, what a run measured."""
    from lmc.compiler import explain
    from lmc.plan.errors import PlanError
    from lmc.plan.file import Plan

    if fmt not in FORMATS:
        typer.echo(f"unknown --format {fmt!r}; choose one of: {', '.join(FORMATS)}", err=True)
        raise typer.Exit(1)
    try:
        plan = Plan.load(plan_path)
    except (PlanError, OSError) as exc:
        typer.echo(f"cannot read {plan_path}: {exc}", err=True)
        raise typer.Exit(1) from None
    measured = None
    if metrics is not None:
        try:
            measured = explain.Measured.from_json(json.loads(metrics.read_text()))
        except (OSError, ValueError) as exc:
            typer.echo(f"cannot read --metrics {metrics}: {exc}", err=True)
            raise typer.Exit(1) from None
    prediction, note = (None, "")
    if inputs is not None:
        prediction, note = predict_reuse(plan.graph, list(read_rows(inputs)), model)
    roles = model_roles(model)
    if roles is None and model != "none":
        note = " ".join(filter(None, [note, f"the chat template of {model!r} cannot be cut per role, "
                                             "so role boundaries show as <role> markers"]))
    try:
        if fmt == "text":
            _text(plan, prediction, note, output, roles)
        elif fmt == "dot":
            _write(explain.to_dot(plan.graph, roles), output)
        elif fmt == "svg":
            _write(explain.to_svg(explain.to_dot(plan.graph, roles)), output or plan_path.with_suffix(".svg"))
        else:
            _write(explain.to_html(plan, prediction, note, roles, measured), output or plan_path.with_suffix(".html"))
    except (explain.GraphvizMissing, RuntimeError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def read_rows(path: Path) -> tuple[Any, ...]:
    """The rows of a JSONL file, one per non-blank line; a malformed line stays in place as None
    (so indices match what the executor counts) and simply fails to instantiate."""
    rows: list[Any] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append(None)
    return tuple(rows)


def predict_reuse(graph: Graph, rows: list[Any], model: str | None) -> tuple[Prediction, str]:
    """(prediction, note): the cache model over `rows`, counting tokens with `model`'s tokenizer
    exactly as `lmc run` sends them (`Tokenizer.encode_run`, BOS included), or with word pieces
    (and a note why) when there is none. `model` is a model name ("tiny", a preset), a Hugging
    Face directory, or None / "none" for word pieces."""
    from lmc.plan.cache_model import predict

    if model is None or model == "none":
        return predict(graph, rows), ""
    try:
        from lmc.runtime.tokenizer import load_tokenizer, role_texts

        tokenizer = load_tokenizer(model)
    except (ImportError, OSError, ValueError) as exc:
        return predict(graph, rows), f"the tokenizer of {model!r} is unavailable ({exc}); token counts are approximate"
    roles, _ = role_texts(tokenizer)
    return predict(graph, rows, tokenizer.encode_run, roles, model), ""


def model_roles(model: str | None) -> dict[str, tuple[str, str]] | None:
    """The text `model`'s chat template puts around each role, for the pictures; None when the
    model has no tokenizer here or its template cannot be cut per role."""
    if model is None or model == "none":
        return None
    try:
        from lmc.runtime.tokenizer import load_tokenizer, role_texts

        roles, _ = role_texts(load_tokenizer(model))
    except (ImportError, OSError, ValueError):
        return None
    return roles


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


def _text(plan: object, prediction: object, note: str, output: Path | None, roles: object) -> None:
    from lmc.compiler import explain

    handle = output.open("w", encoding="utf-8") if output else None
    try:
        console = Console(file=handle, width=120 if handle else None)
        console.print(explain.stats_line(plan), highlight=False)  # type: ignore[arg-type]
        console.print(explain.plan_tree(plan.graph, roles))  # type: ignore[attr-defined, arg-type]
        table = explain.constraints_table(plan.graph)  # type: ignore[attr-defined]
        if table is not None:
            console.print(table)
        if prediction is not None:
            for renderable in explain.cache_tables(prediction):  # type: ignore[arg-type]
                console.print(renderable)
            if note:
                console.print(f"[yellow]{note}[/yellow]")
    finally:
        if handle is not None:
            handle.close()
            typer.echo(f"wrote {output}")
