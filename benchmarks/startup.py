"""Where a run's start-up goes: process start to the first forward, phase by phase.

`python3 -m lmc.benchmarks.startup --model llama-3-8b --load-format dummy --device cuda` prints
one JSON object: seconds spent importing lmc's runtime (torch, transformers), loading the model
(weights, tokenizer), building the engine (KV memory, CUDA graph capture, whose Triton kernels
compile on first use and come from Triton's cache afterwards) and running the first forward.
"""

from __future__ import annotations

import argparse
import json
import time

STARTED = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--load-format", default="auto")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    phases: dict[str, float] = {}
    mark = STARTED

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 3)
        mark = now

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
    print(json.dumps({"model": args.model, "device": args.device, "phases_s": phases, "to_first_token_s": total}))


if __name__ == "__main__":
    main()
