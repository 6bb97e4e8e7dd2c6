"""`lmc serve`: the engine as an OpenAI-compatible server."""

from __future__ import annotations

from typing import Annotated

import typer


def serve_cmd(
    model: Annotated[str, typer.Option(help="'tiny', a preset (with --load-format dummy) or a local HF directory.")] = "tiny",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 30000,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    load_format: Annotated[str, typer.Option("--load-format", help="auto (safetensors) or dummy (random weights).")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, float16 or bfloat16.")] = "auto",
    kv_cache_tokens: Annotated[int | None, typer.Option("--kv-cache-tokens", help="KV cache size in tokens.")] = None,
    radix_cache: Annotated[bool, typer.Option("--radix-cache/--no-radix-cache", help="Reuse KV across requests.")] = True,
    seed: Annotated[int, typer.Option(help="Engine seed (random weights of dummy models, unseeded sampling).")] = 0,
    served_model_name: Annotated[str | None, typer.Option("--served-model-name", help="The model id clients send (default: --model).")] = None,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, help="Requests in flight before new ones get 429.")] = 1024,
) -> None:
    """Serve one engine over HTTP: /v1/completions, /v1/chat/completions, /v1/models,
    /v1/plans/run, /health and /metrics. Every client shares one batch and one radix cache."""
    from lmc.runtime.config import EngineConfig
    from lmc.runtime.server import serve

    config = EngineConfig(model=model, device=device, load_format=load_format, dtype=dtype, seed=seed,
                          kv_cache_tokens=kv_cache_tokens, enable_radix_cache=radix_cache)
    try:
        serve(config, host, port, served_model_name, max_queue,
              on_ready=lambda url: typer.echo(f"lmc serve: {served_model_name or model} at {url}", err=True))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
