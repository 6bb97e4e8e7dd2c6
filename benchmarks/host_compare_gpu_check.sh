#!/usr/bin/env bash
# One device call: lmc (the executor) and the engine alone replaying its request stream
# (benchmarks/host_profile.py) on few-shot x1024 and llm_judge x512 at the 8B dummy shape, for this
# tree (run from a copy at <repo>/.dev/NAME) beside the checkout two levels up (main), then
# `lmc bench run` few-shot x1024 while time is left. Results: $OUT/host.jsonl, $OUT/results.tgz.
set -uo pipefail
ROOT=$(cd ../.. && pwd)
mkdir -p "$OUT/r" /tmp/p-mine /tmp/p-main /tmp/site
ln -sfn "$PWD" /tmp/p-mine/lmc
ln -sfn "$ROOT" /tmp/p-main/lmc
export PYTHONUNBUFFERED=1 LMC_HOME=/tmp/lmc-home
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site ../../.whl/*.whl
nvidia-smi --query-gpu=name,driver_version --format=csv > "$OUT/gpu.txt"
date -u >> "$OUT/gpu.txt"
M=(--model llama-3-8b --load-format dummy --device cuda)
one() {  # tree workload rows limit
  PYTHONPATH=/tmp/p-$1:/tmp/site timeout "$4" python3 -m lmc.benchmarks.host_profile "${M[@]}" --workload "$2" --rows "$3" \
    > "$OUT/r/host_$2_$1.log" 2>&1
  local r; r=$(grep '^{' "$OUT/r/host_$2_$1.log" | tail -1)
  echo "{\"tree\": \"$1\", \"result\": ${r:-null}}" | tee -a "$OUT/host.jsonl"
}
one mine few_shot_mmlu 1024 62
one mine llm_judge 512 62
one main few_shot_mmlu 1024 52
one main llm_judge 512 52
PYTHONPATH=/tmp/p-mine:/tmp/site timeout 45 python3 -m lmc bench run "${M[@]}" --no-transformers --system lmc \
  -w few_shot_mmlu --rows-for few_shot_mmlu=1024 --name host_bench_run_few_shot --out-dir "$OUT/r" > "$OUT/r/bench_run.log" 2>&1
tail -12 "$OUT/r/bench_run.log"
cd "$OUT" && tar czf results.tgz r && rm -rf r
