#!/usr/bin/env bash
# One device call for the host path at the 8B shape (llama-3-8b preset, dummy bf16 weights):
# MODE=profile: imports (python -X importtime), start-up phases cold and warm, and
# benchmarks/host_profile.py on few-shot x1024, tree-of-thought x256, llm_judge x512 (lmc beside
# the engine alone; cProfile of few-shot and llm_judge). MODE=bench: `lmc bench run` at those
# sizes (lmc, engine alone, lmc to a file, both off) into $OUT/run_cuda_scale_h200.json.
# Runs from a plain copy of the repo (`lmc` on the path through a link); wheels in $WHEELS first.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-host-out}
WHEELS=${WHEELS:-.whl}
MODE=${MODE:-profile}
mkdir -p "$OUT" /tmp/lmc-path /tmp/site
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path:/tmp/site PYTHONUNBUFFERED=1 LMC_HOME=/tmp/lmc-home
[ -d "$WHEELS" ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$OUT/gpu.txt"
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
SIZES=(few_shot_mmlu:1024 tree_of_thought:256 llm_judge:512)
if [ "$MODE" = profile ]; then
  python3 -X importtime -c "import lmc.runtime.engine, lmc.runtime.executor, lmc.runtime.model_loader" 2> "$OUT/importtime.txt"
  sort -t'|' -k2 -n "$OUT/importtime.txt" | tail -60 > "$OUT/importtime_top.txt"
  for pass in cold warm; do
    python3 -m lmc.benchmarks.startup "${MODEL[@]}" 2>&1 | tail -1 | tee "$OUT/startup_$pass.json"
  done
  for size in "${SIZES[@]}"; do
    w=${size%%:*}; n=${size##*:}
    prof=(); [ "$w" != tree_of_thought ] && prof=(--profile)
    timeout 150 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" "${prof[@]}" \
      > "$OUT/host_$w.txt" 2>&1
    head -1 "$OUT/host_$w.txt"
  done
else
  rows=(); ws=()
  for size in "${SIZES[@]}"; do ws+=(-w "${size%%:*}"); rows+=(--rows-for "${size/:/=}"); done
  timeout 560 python3 -m lmc bench run "${MODEL[@]}" --no-transformers --system lmc "${ws[@]}" "${rows[@]}" \
    --name run_cuda_scale_h200 --out-dir "$OUT" > "$OUT/bench_run.log" 2>&1
  tail -30 "$OUT/bench_run.log"
fi
