"""`lmc models list` and `lmc models pull`: which models lmc knows, which are on disk, and fetching one ahead of time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lmc.cli.log_level import LogLevel

models_app = typer.Typer(rich_markup_mode=None, help="Models: list the known and downloaded ones, pull one ahead of time.",
                         no_args_is_help=True)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _parameters(fields: dict[str, Any]) -> int:
    """A preset's parameter count from its shape (embeddings, attention, MLP; norms left out)."""
    hidden, vocab, layers = fields["hidden_size"], fields["vocab_size"], fields["num_hidden_layers"]
    head = fields.get("head_dim") or hidden // fields["num_attention_heads"]
    kv = fields["num_key_value_heads"] * head
    attention = hidden * fields["num_attention_heads"] * head * 2 + hidden * kv * 2
    mlp = 3 * hidden * fields["intermediate_size"]
    embeddings = vocab * hidden * (1 if fields.get("tie_word_embeddings") else 2)
    return embeddings + layers * (attention + mlp)


@models_app.command("list")
def list_cmd(log_level: LogLevel = None) -> None:
    """Every model name lmc takes, whether it is on disk under $LMC_HOME, and its size."""
    from lmc.runtime.config import DEFAULT_MODEL
    from lmc.runtime.models.hub import PULLABLE, pulled_path
    from lmc.runtime.models.presets import PRESETS
    from lmc.runtime.models.tiny import lmc_home

    rows = []
    for name, spec in PULLABLE.items():
        path = pulled_path(name)
        where = _megabytes(_size(path)) + f" at {path}" if path.is_file() else f"not pulled ({_megabytes(spec.size)} download)"
        rows.append((name + (" (default)" if name == DEFAULT_MODEL else ""), where, spec.about))
    tiny = lmc_home() / "models" / "tiny"
    tiny_where = _megabytes(_size(tiny)) + f" at {tiny}" if tiny.is_dir() else "built on first use"
    rows.append(("tiny", tiny_where, "random weights (gibberish), Mistral-7B tokenizer: the offline test model"))
    for name, fields in sorted(PRESETS.items()):
        rows.append((name, "shape only", f"{_parameters(fields) / 1e9:.2f}B parameters, run with --load-format dummy"))
    width = max(len(r[0]) for r in rows)
    where_width = max(len(r[1]) for r in rows)
    for name, where, about in rows:
        typer.echo(f"{name:<{width}}  {where:<{where_width}}  {about}")
    typer.echo("\nAlso: --model DIR (a Hugging Face directory) or --model FILE.gguf.")


@models_app.command("pull")
def pull_cmd(name: Annotated[str, typer.Argument(help="A model to fetch, e.g. smollm2-135m.")],
             log_level: LogLevel = None) -> None:
    """Fetch a model now (a later run then starts offline); a model already pulled is kept."""
    from lmc.runtime.models.hub import PULLABLE, PullError, pull, pulled_path

    if name not in PULLABLE:
        typer.echo(f"error: {name!r} is not a model lmc can pull; it can pull {', '.join(PULLABLE)}", err=True)
        raise typer.Exit(2)
    path = pulled_path(name)
    if not path.is_file():
        try:
            path = pull(name)
        except PullError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"{name}: {path} ({_megabytes(_size(path))})")
