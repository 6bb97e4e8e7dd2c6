#!/usr/bin/env bash
# One device call for `lmc run` at the 8B shape (llama-3-8b preset, dummy bf16 weights): start-up
# phases cold and warm (Triton's kernel cache), every example plan through `lmc run` with its
# row errors counted, then `lmc bench run` at the issue's sizes (lmc beside both off). Runs from
# a plain copy of the repo (`lmc` on the path through a link); carried wheels in .whl/ first.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-run-out}
WHEELS=${WHEELS:-../.whl}
mkdir -p "$OUT" /tmp/lmc-path /tmp/site /tmp/plans
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path:/tmp/site PYTHONUNBUFFERED=1 LMC_HOME=/tmp/lmc-home
[ -d "$WHEELS" ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$OUT/gpu.txt"
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
for pass in cold warm; do
  python3 -m lmc.benchmarks.startup "${MODEL[@]}" 2>&1 | tail -1 | tee "$OUT/startup_$pass.json"
done
for ex in examples/*.py; do
  name=$(basename "$ex" .py)
  [ -f "examples/data/$name.jsonl" ] || continue
  { python3 -m lmc compile "$ex" -o "/tmp/plans/$name.json" || python3 -m lmc compile "$ex" --program "$name" -o "/tmp/plans/$name.json"; } > /dev/null 2>&1 || { echo "$name: compile failed"; continue; }
  start=$(date +%s%N)
  python3 -m lmc run "/tmp/plans/$name.json" --inputs "examples/data/$name.jsonl" -o "$OUT/$name.out.jsonl" \
    --metrics "$OUT/$name.metrics.json" "${MODEL[@]}" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name: rc=$rc rows=$(wc -l < "$OUT/$name.out.jsonl") errors=$(grep -c '"error"' "$OUT/$name.out.jsonl") wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))" | tee -a "$OUT/examples.txt"
done
timeout $(( ${BUDGET_S:-570} - SECONDS )) python3 -m lmc bench run "${MODEL[@]}" --no-transformers --system lmc \
  -w few_shot_mmlu -w tree_of_thought -w llm_judge -w multi_turn_chat \
  --rows-for few_shot_mmlu=1024 --rows-for tree_of_thought=256 --rows-for llm_judge=512 --rows-for multi_turn_chat=256 \
  --name run_cuda_scale_h200 --out-dir "$OUT" 2>&1 | tee "$OUT/bench_scale.log"
