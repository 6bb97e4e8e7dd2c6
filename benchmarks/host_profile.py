"""Where the host's time goes in one `lmc run`-shaped workload: the executor run beside the
engine alone on the same request stream, and a cProfile of the run (read the shares: profiling
inflates Python several times).

`python3 -m lmc.benchmarks.host_profile --workload llm_judge --rows 512 [--model M --load-format
dummy --device cuda] [--profile]` prints one JSON line (wall, the executor's own share of it: the
wall minus the time inside the engine's calls, and its CPU time, which other jobs on the machine
do not inflate; forwards, the replay's wall, their ratio) and, with --profile, the functions that
took the most time. On a CPU, a model with a cheap forward (`--tiny-layers 1 --tiny-hidden 32`: the
tiny model and tokenizer, built with `lmc.runtime.models.tiny.build_tiny_model`) makes the host's
share show as it does beside a GPU.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time

from lmc.benchmarks.replay import Recorder, replay
from lmc.benchmarks.run import _plans, workload_jobs
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RunOptions, execute
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.model_loader import load_model
from lmc.runtime.models.tiny import build_tiny_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="llm_judge")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--load-format", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--max-running-requests", type=int, default=EngineConfig.max_running_requests)
    parser.add_argument("--max-batch-tokens", type=int, default=EngineConfig.max_batch_tokens)
    parser.add_argument("--chunk-size", type=int, default=EngineConfig.chunk_size)
    parser.add_argument("--tiny-layers", type=int, help="build a cheap tiny model (with --tiny-hidden)")
    parser.add_argument("--tiny-hidden", type=int, default=32)
    args = parser.parse_args()
    if args.tiny_layers is not None:
        hidden = args.tiny_hidden
        args.model = str(build_tiny_model(
            tempfile.mkdtemp(prefix="lmc_tiny_"), num_hidden_layers=args.tiny_layers, hidden_size=hidden,
            intermediate_size=2 * hidden, num_attention_heads=max(1, hidden // 16),
            num_key_value_heads=max(1, hidden // 32),
        ))
    loaded = load_model(args.model, args.load_format, device=args.device)
    config = EngineConfig(device=str(loaded.device), max_running_requests=args.max_running_requests,
                          max_batch_tokens=args.max_batch_tokens, chunk_size=args.chunk_size)
    plan, _ = _plans(args.workload)
    jobs = workload_jobs(args.workload, args.rows)
    execute(Engine(config, loaded=loaded), plan, jobs[:1], lambda r: None, RunOptions())  # warm-up
    engine = Recorder(Engine(config, loaded=loaded))
    metrics = RunMetrics()
    profile = cProfile.Profile() if args.profile else None
    started, cpu = time.perf_counter(), time.thread_time()
    if profile:
        profile.enable()
    execute(engine, plan, jobs, lambda r: None, RunOptions(), metrics=metrics)
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
    stats = engine.stats()
    engine_s, engine_cpu_s = engine.engine_s, engine.engine_cpu_s
    recording = engine.recording()
    del engine  # its KV memory goes back before the replay's engine sizes its own
    alone_engine = Engine(config, loaded=loaded)
    alone_cpu = time.thread_time()
    alone = replay(alone_engine, recording)
    alone_cpu = time.thread_time() - alone_cpu
    print(json.dumps({
        "workload": args.workload, "rows": args.rows, "max_running_requests": args.max_running_requests,
        "max_batch_tokens": args.max_batch_tokens, "chunk_size": args.chunk_size, "model": args.model, "device": str(loaded.device),
        "profiled": args.profile, "wall_s": round(wall, 3),
        "executor_s": round(wall - engine_s, 3), "executor_cpu_s": round(cpu - engine_cpu_s, 3), "forward_s": round(stats.forward_seconds, 3),
        "wait_s": round(stats.device_wait_seconds, 3), "device_s": round(stats.device_seconds, 3),
        "steps": stats.steps, "hit": round(stats.hit_rate, 4), "modeled": round(metrics.modeled_hit_rate, 4),
        "alone_wall_s": round(alone.wall_s, 3), "alone_cpu_s": round(alone_cpu, 3), "alone_forward_s": round(alone_engine.stats().forward_seconds, 3),
        "alone_wait_s": round(alone_engine.stats().device_wait_seconds, 3),
        "alone_device_s": round(alone_engine.stats().device_seconds, 3),
        "same": alone.same, "overhead": round(wall / alone.wall_s, 3),
    }))
    if profile:
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats(order).print_stats(args.top)
            print(text.getvalue())


if __name__ == "__main__":
    main()
