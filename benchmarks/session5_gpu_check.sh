#!/usr/bin/env bash
# Session 5's one device call after the merges (about 9 minutes): the GPU tests (engine, CUDA graphs,
# vocabulary bound, cascade attention, skinny matmuls), start-up cold then warm, few-shot x1024 through
# the executor beside the engine alone, tree x256 and judge x512 through `lmc bench run`, then every
# example plan through `lmc run` at the 8B dummy shape with its row errors counted, and `lmc bench
# gpu` while time is left. Everything lands in $OUT, tarred.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
mkdir -p /tmp/plans
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
python3 -m lmc.benchmarks.startup "${MODEL[@]}" > "$OUT/startup_cold.json" 2> "$OUT/startup_cold.log"
python3 -m lmc.benchmarks.startup "${MODEL[@]}" > "$OUT/startup_warm.json" 2> "$OUT/startup_warm.log"
timeout 110 python3 -m pytest -m gpu -p no:cacheprovider -rfEs tests/runtime/test_engine_gpu.py \
  tests/runtime/test_cuda_graph.py tests/runtime/test_vocab_bound.py tests/runtime/test_cascade_gpu.py \
  tests/kernels/test_skinny_matmul.py tests/kernels/test_shared_prefix_attention.py > "$OUT/pytest_gpu.log" 2>&1
timeout 70 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload few_shot_mmlu --rows 1024 \
  > "$OUT/host_few_shot_mmlu.txt" 2>&1
timeout 130 python3 -m lmc bench run "${MODEL[@]}" --no-transformers --system lmc -w tree_of_thought -w llm_judge \
  --rows-for tree_of_thought=256 --rows-for llm_judge=512 --tries 1 --name run_cuda_scale_h200 --out-dir "$OUT" \
  > "$OUT/bench_run.log" 2>&1
for ex in examples/*.py; do
  name=$(basename "$ex" .py)
  [ -f "examples/data/$name.jsonl" ] || continue
  [ "$SECONDS" -lt 470 ] || { echo "$name: not run (time)" >> "$OUT/examples.txt"; continue; }
  prog=(); [ "$name" = rag_pipeline ] && prog=(--program rag_pipeline)
  python3 -m lmc compile "$ex" -o "/tmp/plans/$name.json" "${prog[@]}" > /dev/null 2>&1 || { echo "$name: compile failed" >> "$OUT/examples.txt"; continue; }
  start=$(date +%s%N)
  timeout $(( 500 - SECONDS )) python3 -m lmc run "/tmp/plans/$name.json" --inputs "examples/data/$name.jsonl" \
    -o "$OUT/$name.out.jsonl" --no-progress "${MODEL[@]}" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name: rc=$rc rows=$(wc -l < "$OUT/$name.out.jsonl") errors=$(grep -c '"error"' "$OUT/$name.out.jsonl") wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))" >> "$OUT/examples.txt"
done
[ "$SECONDS" -lt 480 ] && timeout $(( 540 - SECONDS )) python3 -m lmc bench gpu --no-transformers --name gpu_h200 \
  --out-dir "$OUT" > "$OUT/bench_gpu.log" 2>&1
echo "seconds: $SECONDS" >> "$OUT/examples.txt"
tail -3 "$OUT/pytest_gpu.log"; cat "$OUT/startup_cold.json" "$OUT/startup_warm.json"; head -1 "$OUT/host_few_shot_mmlu.txt"
tail -12 "$OUT/bench_run.log"; cat "$OUT/examples.txt"; tail -15 "$OUT/bench_gpu.log"
(cd "$OUT" && tar czf /tmp/gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/gpu_results.tgz .)
