"""`lmc bench serve`: `lmc serve` under 1, 8, 32, 128 concurrent streaming clients, beside the
in-process engine on the same requests at the same concurrency.

Each level sends `requests_per_client x clients` (at least `min_requests`) completions: a shared
prefix plus tokens of their own (the few-shot shape), `new_tokens` generated each with EOS
ignored, streamed. Each client sends its next request when the last one ends (a closed loop), so
at most `clients` requests are in flight. Time to first token is from sending a request to the
first chunk carrying a token (lmc's `token_ids`; a dummy model's ids past the tokenizer have no
text); throughput is generated tokens over the level's wall time. The in-process engine then
runs every level's requests the same way, `clients` in flight and the next submitted as one
finishes (after the server has stopped, so the two never share a device). A level's overhead is
in-process tokens/s over the server's.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lmc.benchmarks.report import write_report

LEVELS = (1, 8, 32, 128)
STARTUP_S = 900


def prompts(count: int, prefix_tokens: int, own_tokens: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    prefix = [1] + [rng.randrange(100, 30000) for _ in range(prefix_tokens - 1)]
    return [prefix + [rng.randrange(100, 30000) for _ in range(own_tokens)] for _ in range(count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _level(url: str, model: str, batch: list[list[int]], clients: int, new_tokens: int) -> dict:
    queue: asyncio.Queue = asyncio.Queue()
    for ids in batch:
        queue.put_nowait(ids)
    ttfts: list[float] = []
    tokens = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal tokens
        while not queue.empty():
            ids = queue.get_nowait()
            body = {"model": model, "prompt": ids, "max_tokens": new_tokens, "temperature": 0,
                    "ignore_eos": True, "stream": True}
            sent = time.perf_counter()
            first = None
            async with http.stream("POST", url + "/completions", json=body) as reply:
                if reply.status_code != 200:
                    raise RuntimeError(f"HTTP {reply.status_code}: {await reply.aread()}")
                async for line in reply.aiter_lines():
                    if first is None and line.startswith("data: {") and json.loads(line[6:])["choices"][0]["token_ids"]:
                        first = time.perf_counter() - sent  # a token, even one whose text is empty
            ttfts.append(first if first is not None else time.perf_counter() - sent)
            tokens += new_tokens

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=None, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - start
    return {"clients": clients, "requests": len(batch), "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens / wall, 1), "ttft_p50_ms": round(1e3 * statistics.median(ttfts), 1),
            "ttft_p99_ms": round(1e3 * _percentile(ttfts, 0.99), 1)}


def _start(args: list[str], port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "lmc", "serve", "--port", str(port), "--served-model-name", "bench", *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lmc serve exited: {process.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("lmc serve did not start")


def _in_process(engine: object, batch: list[list[int]], clients: int, new_tokens: int) -> dict:
    """The level's requests on the engine itself, `clients` in flight: what the server adds to."""
    from lmc.runtime.request import Request, SamplingParams

    params = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    pending = list(reversed(batch))
    sent: dict[str, float] = {}
    ttfts: dict[str, float] = {}

    def first_token(rid: str, _: int) -> None:
        ttfts.setdefault(rid, time.perf_counter() - sent[rid])

    def submit() -> None:
        rid = f"bench-{len(sent)}"
        sent[rid] = time.perf_counter()
        engine.submit(Request(list(pending.pop()), params, rid=rid, on_token=first_token))

    start = time.perf_counter()
    for _ in range(min(clients, len(pending))):
        submit()
    while engine.has_work():
        for _ in engine.step():
            if pending:
                submit()
    wall = time.perf_counter() - start
    return {"tokens_per_s": round(len(batch) * new_tokens / wall, 1),
            "ttft_p50_ms": round(1e3 * statistics.median(ttfts.values()), 1),
            "ttft_p99_ms": round(1e3 * _percentile(list(ttfts.values()), 0.99), 1)}


def bench_serve(model: str, device: str, load_format: str, levels: tuple[int, ...], requests_per_client: int,
                min_requests: int, prefix_tokens: int, own_tokens: int, new_tokens: int, port: int,
                out_dir: str, name: str, serve_options: tuple[str, ...] = ()) -> Path:
    from lmc.runtime.config import EngineConfig
    from lmc.runtime.engine import Engine
    from lmc.runtime.request import SamplingParams

    serve_args = ["--model", model, "--device", device, "--load-format", load_format, "--max-queue", "100000",
                  *serve_options]
    batches = {c: prompts(max(c * requests_per_client, min_requests), prefix_tokens, own_tokens, seed=c) for c in levels}
    process = _start(serve_args, port)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        asyncio.run(_level(url, "bench", prompts(2, 8, 4, seed=99), 1, 2))  # warm-up, untimed
        served = {c: asyncio.run(_level(url, "bench", batches[c], c, new_tokens)) for c in levels}
    finally:
        process.terminate()
        process.wait(timeout=60)
    engine = Engine(EngineConfig(model=model, device=device, load_format=load_format))
    engine.generate([prompts(2, 8, 4, seed=99)[0]], SamplingParams(max_tokens=2))  # warm-up, untimed
    rows = []
    for c in levels:
        local = _in_process(engine, batches[c], c, new_tokens)
        server = served[c]
        rows.append({"clients": c, "requests": server["requests"], "server_tokens_per_s": server["tokens_per_s"],
                     "engine_tokens_per_s": local["tokens_per_s"],
                     "overhead": round(local["tokens_per_s"] / server["tokens_per_s"], 3),
                     "server_ttft_p50_ms": server["ttft_p50_ms"], "server_ttft_p99_ms": server["ttft_p99_ms"],
                     "engine_ttft_p50_ms": local["ttft_p50_ms"], "engine_ttft_p99_ms": local["ttft_p99_ms"]})
    shape = {"prefix_tokens": prefix_tokens, "own_tokens": own_tokens, "new_tokens": new_tokens,
             "model": model, "device": device, "load_format": load_format, "serve_options": list(serve_options)}
    return write_report(name, rows, out_dir,
                        {"shape": shape, "overhead_note": "overhead = in-process tokens/s / server tokens/s, "
                                                          "both with `clients` requests in flight"})
