"""Start the server: load the engine (or N data-parallel engine processes), then uvicorn on one
event loop until Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from lmc.runtime.config import EngineConfig
from lmc.runtime.server.app import Server


def serve(config: EngineConfig, host: str = "127.0.0.1", port: int = 30000, model_name: str | None = None,
          max_queue: int = 1024, on_ready: Callable[[str], None] | None = None, data_parallel: int = 1,
          engine_process: bool = False) -> None:
    """Serve `config`'s model as `model_name` (default: the model's name); `on_ready` gets the
    base URL once the engine is loaded and the socket listens. `data_parallel` > 1 runs that
    many engine processes behind a prefix-aware router; `engine_process` runs even one engine
    in its own process (its Python never waits on the HTTP side's for the GIL)."""
    name = model_name or config.model
    if data_parallel > 1 or engine_process:
        from lmc.runtime.server.data_parallel import RoutedWorkers
        from lmc.runtime.tokenizer import load_tokenizer

        workers = RoutedWorkers.launch(config, data_parallel, max_queue)
        server = Server(workers.facts(load_tokenizer(config.model)), name, max_queue, workers)
    else:
        from lmc.runtime.engine import Engine

        server = Server(Engine(config), name, max_queue)
    uv = uvicorn.Server(uvicorn.Config(server.app, host=host, port=port, log_level="warning",
                                       timeout_graceful_shutdown=5))
    if on_ready is not None:
        server.on_ready.append(lambda: on_ready(f"http://{host}:{port}/v1"))
    try:
        uv.run()
    finally:
        server.worker.stop()
