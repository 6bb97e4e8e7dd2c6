"""`lmc bench serve`: `lmc serve` under 1, 8, 32, 128 concurrent streaming clients, beside the
in-process engine on the same requests.

Each level sends `requests_per_client x clients` (at least `min_requests`) completions: a shared
prefix plus tokens of their own (the few-shot shape), `new_tokens` generated each with EOS
ignored, streamed. Time to first token is from sending a request to the first chunk carrying a
token (lmc's `token_ids`; a dummy model's ids past the tokenizer have no text);
throughput is generated tokens over the level's wall time. The in-process engine then runs the
largest level's requests submitted at once (after the server has stopped, so the two never share
a device); the overhead ratio is in-process throughput over the server's at that level.
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


def _in_process(engine_args: dict, batch: list[list[int]], new_tokens: int) -> dict:
    from lmc.runtime.config import EngineConfig
    from lmc.runtime.engine import Engine
    from lmc.runtime.request import Request, SamplingParams

    engine = Engine(EngineConfig(**engine_args))
    params = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    engine.generate([batch[0][:8]], SamplingParams(max_tokens=2))  # warm-up, untimed
    start = time.perf_counter()
    for ids in batch:
        engine.submit(Request(list(ids), params))
    engine.run_until_done()
    wall = time.perf_counter() - start
    return {"clients": "in-process", "requests": len(batch), "wall_s": round(wall, 3),
            "tokens_per_s": round(len(batch) * new_tokens / wall, 1)}


def bench_serve(model: str, device: str, load_format: str, levels: tuple[int, ...], requests_per_client: int,
                min_requests: int, prefix_tokens: int, own_tokens: int, new_tokens: int, port: int,
                out_dir: str, name: str) -> Path:
    engine_args = {"model": model, "device": device, "load_format": load_format}
    serve_args = ["--model", model, "--device", device, "--load-format", load_format, "--max-queue", "100000"]
    batches = {c: prompts(max(c * requests_per_client, min_requests), prefix_tokens, own_tokens, seed=c) for c in levels}
    process = _start(serve_args, port)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        asyncio.run(_level(url, "bench", prompts(2, 8, 4, seed=99), 1, 2))  # warm-up, untimed
        rows = [asyncio.run(_level(url, "bench", batches[c], c, new_tokens)) for c in levels]
    finally:
        process.terminate()
        process.wait(timeout=60)
    top = max(levels)
    local = _in_process(engine_args, batches[top], new_tokens)
    server_top = next(r for r in rows if r["clients"] == top)
    overhead = round(local["tokens_per_s"] / server_top["tokens_per_s"], 3)
    shape = {"prefix_tokens": prefix_tokens, "own_tokens": own_tokens, "new_tokens": new_tokens,
             "model": model, "device": device, "load_format": load_format}
    return write_report(name, [*rows, local], out_dir,
                        {"shape": shape, "overhead_ratio_at_top_level": overhead,
                         "overhead_note": f"in-process tokens/s / server tokens/s at {top} clients"})
