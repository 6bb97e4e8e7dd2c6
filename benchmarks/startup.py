"""Where a run's start-up goes: process start to the first forward, phase by phase.

`python3 -m lmc.benchmarks.startup --model llama-3-8b --load-format dummy --device cuda` prints
one JSON object: seconds spent importing lmc's runtime (torch, transformers), loading the model
(weights, tokenizer), building the engine (KV memory, CUDA graph capture, whose Triton kernels
compile on first use and come from the kernel cache afterwards) and running the first forward.
Each phase is given in wall seconds and in CPU seconds of this process (`cpu_s`): on a shared
machine the wall time includes waiting for a core, the CPU time does not.

A start is cold or warm by what lmc's caches held when it began, which `caches` reports: the
GGUF's index and dequantized weights, the `tiny` model (whose tokenizer the presets borrow) and
Triton's compiled kernels. `--profile FILE` writes a cProfile of the whole start (read its
shares, not its seconds: profiling inflates Python).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import time
from pathlib import Path

STARTED = time.perf_counter()
STARTED_CPU = time.process_time()


def _cache_state() -> dict[str, object]:
    """What lmc's caches hold before the start (no import of torch or transformers)."""
    home = Path(os.environ.get("LMC_HOME") or Path.home() / ".cache" / "lmc")
    triton = Path(os.environ.get("TRITON_CACHE_DIR") or home / "triton")
    state: dict[str, object] = {
        "lmc_home": str(home),
        "tiny_model": (home / "models" / "tiny" / "model.safetensors").is_file(),
        "triton_kernel_files": sum(1 for p in triton.rglob("*") if p.is_file()) if triton.is_dir() else 0,
    }
    gguf = home / "gguf"
    state["gguf_cache_files"] = sorted(str(p.relative_to(gguf)) for p in gguf.glob("*/*") if p.suffix in (".json", ".safetensors")) if gguf.is_dir() else []
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--load-format", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=True,
                        help="capture decode CUDA graphs at start (the engine's default)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE", help="write a cProfile of the start here")
    args = parser.parse_args()
    caches = _cache_state()
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
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
    config = EngineConfig(model=args.model, load_format=args.load_format, device=args.device,
                          enable_cuda_graph=args.cuda_graph)
    engine = Engine(config, loaded=loaded)
    phase("engine_init")
    engine.generate(["Once upon a time"], SamplingParams(max_tokens=1))
    phase("first_forward")
    total = round(time.perf_counter() - STARTED, 3)
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    graphs = getattr(engine.runner, "graphs", None)
    print(json.dumps({"model": args.model, "device": args.device, "caches_before": caches,
                      "cuda_graph_sizes": len(graphs.sizes) if graphs is not None else 0,
                      "phases_s": phases, "cpu_s": cpu, "to_first_token_s": total,
                      "to_first_token_cpu_s": round(time.process_time() - STARTED_CPU, 3),
                      "load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
