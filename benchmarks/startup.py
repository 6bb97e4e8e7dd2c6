"""Where a run's start-up goes: process start to the first forward, phase by phase.

`python3 -m lmc.benchmarks.startup --model llama-3-8b --load-format dummy --device cuda` prints
one JSON object: seconds spent importing lmc's runtime (torch, transformers), loading the model
(weights, tokenizer), building the engine (KV memory, CUDA graph capture, whose Triton kernels
compile on first use and come from Triton's cache afterwards) and running the first forward.
Each phase is given in wall seconds and in CPU seconds of this process (`cpu_s`): on a shared
machine the wall time includes waiting for a core, the CPU time does not.
"""

from __future__ import annotations

import argparse
import json
import time

STARTED = time.perf_counter()
STARTED_CPU = time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--load-format", default="auto")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    phases: dict[str, float] = {}
    cpu: dict[str, float] = {}
    mark, mark_cpu = STARTED, STARTED_CPU

    def phase(name: str) -> None:
        nonlocal mark, mark_cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        phases[name], cpu[name] = round(now - mark, 3), round(now_cpu - mark_cpu, 3)
        mark, mark_cpu = now, now_cpu

    from lmc.runtime.config import EngineConfig
    from lmc.runtime.engine import Engine
    from lmc.runtime.model_loader import load_model
    from lmc.runtime.request import SamplingParams

    phase("imports")
    loaded = load_model(args.model, args.load_format, device=args.device)
    phase("load_model")
    engine = Engine(EngineConfig(model=args.model, load_format=args.load_format, device=args.device), loaded=loaded)
    phase("engine_init")
    engine.generate(["Once upon a time"], SamplingParams(max_tokens=1))
    phase("first_forward")
    total = round(time.perf_counter() - STARTED, 3)
    print(json.dumps({"model": args.model, "device": args.device, "phases_s": phases, "cpu_s": cpu,
                      "to_first_token_s": total, "to_first_token_cpu_s": round(time.process_time() - STARTED_CPU, 3)}))


if __name__ == "__main__":
    main()
