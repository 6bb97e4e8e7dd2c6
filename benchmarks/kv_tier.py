"""Multi-turn chat whose sessions' KV is several times the device KV cache: tier on vs off.

`--sessions` chats, each a `--system-tokens` prompt of its own, take `--turns` turns; every turn
submits all sessions at once, so by a session's next turn its history has been evicted from
device KV by the others' (their KV is `--cache-multiple` times `--kv-cache-tokens`). With the
host tier the evicted history is copied back; without it the history is computed again. Both
runs share one loaded model and print and write (JSON under --out-dir) wall time, generated
tokens/s, the hit rate, prefill tokens and what the tier stored and loaded.

    python3 -m lmc.benchmarks.kv_tier --device cuda --model llama-3-8b --load-format dummy
    python3 -m lmc.benchmarks.kv_tier --model tiny --kv-cache-tokens 2048 --sessions 6 --system-tokens 800
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from dataclasses import replace
from pathlib import Path

import torch

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams


def chat(engine: Engine, args: argparse.Namespace) -> tuple[dict, list[list[int]]]:
    """Every turn of every session; returns the run's figures and each answer's token ids."""
    rng = random.Random(0)
    vocab = engine.token_vocab_size

    def words(n: int) -> list[int]:
        return [rng.randrange(100, vocab) for _ in range(n)]

    histories = [words(args.system_tokens) for _ in range(args.sessions)]
    answers: list[list[int]] = []
    sampling = SamplingParams(max_tokens=args.new_tokens, ignore_eos=True)
    start = time.perf_counter()
    for _ in range(args.turns):
        handles = [engine.submit(Request(list(h), sampling)) for h in histories]
        engine.run_until_done()
        for history, handle in zip(histories, handles):
            answers.append(handle.output.output_ids)
            history += handle.output.output_ids + words(args.user_tokens)
    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    s = engine.stats()
    generated = sum(len(a) for a in answers)
    return {
        "wall_s": round(wall, 3), "generated_tokens": generated, "tokens_per_s": round(generated / wall, 1),
        "hit_rate": round(s.hit_rate, 4), "prefill_tokens": s.prefill_tokens, "cached_tokens": s.cached_tokens,
        "evicted_tokens": s.evicted_tokens, "host_stored_tokens": s.host_stored_tokens,
        "host_loaded_tokens": s.host_loaded_tokens, "forward_s": round(s.forward_seconds, 3),
    }, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--load-format", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--kv-cache-tokens", type=int, default=32_768, help="the device KV cache")
    parser.add_argument("--cache-multiple", type=float, default=3.0, help="sessions' final KV / device cache")
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--user-tokens", type=int, default=48)
    parser.add_argument("--system-tokens", type=int, default=0,
                        help="each session's first prompt (0: sized so the sessions' KV is cache-multiple x the cache)")
    parser.add_argument("--host-kv-cache-gb", type=float, default=0.0, help="0: room for every session's KV")
    parser.add_argument("--out-dir", default=os.environ.get("OUT", "lmc-bench"))
    args = parser.parse_args()
    turn_tokens = args.new_tokens + args.user_tokens
    if not args.system_tokens:
        final = int(args.cache_multiple * args.kv_cache_tokens / args.sessions)
        args.system_tokens = max(16, final - args.turns * turn_tokens)
    base = EngineConfig(model=args.model, load_format=args.load_format, device=args.device,
                        kv_cache_tokens=args.kv_cache_tokens)
    loaded = load_model(base.model, base.load_format, base.dtype, base.device, base.seed)
    token_bytes = 2 * loaded.model.num_layers * loaded.model.num_kv_heads * loaded.model.head_dim * loaded.dtype.itemsize
    session_tokens = args.sessions * (args.system_tokens + args.turns * turn_tokens)
    host_gb = args.host_kv_cache_gb or 1.25 * session_tokens * token_bytes / 2**30
    rows = {}
    answers = {}
    for name, gb in (("tier_off", 0.0), ("tier_on", host_gb)):
        engine = Engine(replace(base, host_kv_cache_gb=gb), loaded)
        rows[name], answers[name] = chat(engine, args)
        rows[name]["host_kv_cache_gb"] = round(gb, 3)
        print(name, json.dumps(rows[name]), flush=True)
        del engine
        if base.device == "cuda":
            torch.cuda.empty_cache()
    report = {
        "command": "python3 -m lmc.benchmarks.kv_tier " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "machine": torch.cuda.get_device_name() if base.device == "cuda" else platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "session_kv_tokens": session_tokens, "device_cache_tokens": args.kv_cache_tokens,
        "session_kv_over_cache": round(session_tokens / args.kv_cache_tokens, 2),
        "rows": rows, "same_outputs": answers["tier_off"] == answers["tier_on"],
        "speedup": round(rows["tier_off"]["wall_s"] / rows["tier_on"]["wall_s"], 3),
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kv_tier.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"sessions' KV {session_tokens} tokens = {report['session_kv_over_cache']} x the device cache; "
          f"speed-up {report['speedup']}x, hit rate {rows['tier_off']['hit_rate']} -> {rows['tier_on']['hit_rate']}, "
          f"same outputs {report['same_outputs']}")


if __name__ == "__main__":
    main()
