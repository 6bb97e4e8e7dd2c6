#!/usr/bin/env bash
# The six SGLang benchmark ports through `lmc bench run` at the 8B dummy shape (issue 11's bench, issue 16 item 2).
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
timeout 270 python3 -m lmc bench run --model llama-3-8b --load-format dummy --device cuda --no-transformers --tries 1 \
  -w sglang/bench_mmlu -w sglang/bench_hellaswag -w sglang/bench_react -w sglang/bench_generative_agents \
  -w sglang/bench_llm_judge -w sglang/bench_tree_of_thought_deep --rows 64 --rows-for sglang/bench_tree_of_thought_deep=8 \
  --name run_cuda_sglang_h200 --out-dir "$OUT" > "$OUT/bench_run.log" 2>&1
echo "rc=$? seconds=$SECONDS" >> "$OUT/bench_run.log"
tail -5 "$OUT/bench_run.log"
