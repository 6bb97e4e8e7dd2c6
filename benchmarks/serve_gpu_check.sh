#!/usr/bin/env bash
# One device call: `lmc bench serve` at the Llama-3-8B shape (dummy weights) on one GPU, at 1, 8,
# 32 and 128 streaming clients beside the in-process engine at the same concurrency, first with
# the engine on a thread of the server (the default), then in its own process (--engine-process).
# About 4 minutes; results (JSON + logs) under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
COMMON=(--device cuda --model llama-3-8b --load-format dummy --new-tokens 64 --clients 1 --clients 8
        --clients 32 --clients 128 --requests-per-client 2 --min-requests 32 --out-dir "$OUT")
timeout 140 python3 -m lmc bench serve "${COMMON[@]}" --name serve_h200 > "$OUT/bench_serve.log" 2>&1
timeout 140 python3 -m lmc bench serve "${COMMON[@]}" --engine-process --port 30124 \
  --name serve_h200_engine_process > "$OUT/bench_serve_engine_process.log" 2>&1
tail -12 "$OUT/bench_serve.log" "$OUT/bench_serve_engine_process.log"
