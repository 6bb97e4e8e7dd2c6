"""`lmc serve`: the engine as an OpenAI-compatible server."""

from __future__ import annotations

from typing import Annotated

import typer

from lmc.cli.engine_options import engine_options
from lmc.cli.log_level import LogLevel
from lmc.runtime.config import EngineConfig


@engine_options
def serve_cmd(
    host: Annotated[str, typer.Option(metavar="ADDR", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="N", help="Port to listen on.")] = 30000,
    served_model_name: Annotated[str | None, typer.Option("--served-model-name", metavar="NAME", help="The model id clients send (default: --model).")] = None,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, metavar="N", help="Requests in flight before new ones get 429.")] = 1024,
    engine_process: Annotated[bool, typer.Option("--engine-process", help="Run the engine in its own process, not a thread beside the HTTP server (implied by --data-parallel above 1).")] = False,
    data_parallel: Annotated[int, typer.Option("--data-parallel", min=1, metavar="N", help="Engine processes behind one server (one per GPU, or CPU slices); requests go to the worker holding their longest prefix, balanced by load.")] = 1,
    log_level: LogLevel = None,
    *,
    engine: EngineConfig,
) -> None:
    """Serve one engine over HTTP: /v1/completions, /v1/chat/completions, /v1/models,
    /v1/plans/run, /health and /metrics. Every client shares one batch and one radix cache."""
    from lmc.runtime.server import serve

    try:
        serve(engine, host, port, served_model_name, max_queue,
              on_ready=lambda url: typer.echo(f"lmc serve: {served_model_name or engine.model} at {url}", err=True),
              data_parallel=data_parallel, engine_process=engine_process)
    except (OSError, ValueError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
