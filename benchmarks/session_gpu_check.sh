#!/usr/bin/env bash
# One device call after the session's merges (about 9 minutes): the GPU tests, the host KV tier
# at the 8B dummy shape (benchmarks/kv_tier_gpu_check.sh's run), the journal's wall-time cost on
# the device host's quiet CPU cores, then every example plan through `lmc run` at the 8B dummy
# shape with its row errors counted, while time is left. Everything lands in $OUT, tarred.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
mkdir -p /tmp/plans
timeout 150 python3 -m pytest -m gpu -p no:cacheprovider -q -rfEs tests/runtime/test_engine_gpu.py \
  tests/runtime/test_cuda_graph.py tests/runtime/test_vocab_bound.py tests/runtime/test_kv_tier.py 2>&1 | tail -30 > "$OUT/pytest_gpu.log"
timeout 200 python3 -m lmc.benchmarks.kv_tier --device cuda --model llama-3-8b --load-format dummy \
  --kv-cache-tokens 32768 --sessions 24 --turns 4 --out-dir "$OUT" > "$OUT/kv_tier.log" 2>&1
CUDA_VISIBLE_DEVICES= timeout 110 python3 -m lmc.benchmarks.journal_overhead --rows 192 --repeats 5 \
  --out-dir "$OUT" > "$OUT/journal_overhead.log" 2>&1
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
for ex in examples/*.py; do
  name=$(basename "$ex" .py)
  [ -f "examples/data/$name.jsonl" ] || continue
  [ "$SECONDS" -lt 520 ] || { echo "$name: not run (time)" >> "$OUT/examples.txt"; continue; }
  python3 -m lmc compile "$ex" -o "/tmp/plans/$name.json" > /dev/null 2>&1 || { echo "$name: compile failed" >> "$OUT/examples.txt"; continue; }
  start=$(date +%s%N)
  timeout $(( 570 - SECONDS )) python3 -m lmc run "/tmp/plans/$name.json" --inputs "examples/data/$name.jsonl" \
    -o "$OUT/$name.out.jsonl" --no-progress "${MODEL[@]}" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name: rc=$rc rows=$(wc -l < "$OUT/$name.out.jsonl") errors=$(grep -c '"error"' "$OUT/$name.out.jsonl") wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))" >> "$OUT/examples.txt"
done
tail -4 "$OUT/pytest_gpu.log"; tail -3 "$OUT/kv_tier.log"; tail -2 "$OUT/journal_overhead.log"; cat "$OUT/examples.txt"
(cd "$OUT" && tar czf /tmp/gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/gpu_results.tgz .)
