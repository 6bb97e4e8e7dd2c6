#!/usr/bin/env bash
# Session 6's closing device call (about 8 minutes): the device-clock and vocabulary GPU tests, a
# warm-up pass that fills the Triton cache, each issue-16 workload through host_profile (the executor
# beside the engine alone, with the device's own time on the steps), few-shot and judge again under
# larger engine budgets, the scale bench of tree x256 and judge x512 against both off, and `lmc bench
# gpu` while time is left.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
timeout 90 python3 -m pytest -m gpu -p no:cacheprovider -rfEs tests/runtime/test_device_clock.py \
  tests/runtime/test_vocab_bound.py > "$OUT/pytest_gpu.log" 2>&1
timeout 60 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload few_shot_mmlu --rows 1024 > /dev/null 2>&1
for size in few_shot_mmlu:1024 tree_of_thought:256 llm_judge:512; do
  w=${size%%:*}; n=${size##*:}
  timeout 60 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" 2>/dev/null \
    | grep '^{' | tee -a "$OUT/host_final.jsonl"
done
# the engine's budgets: one forward's tokens and extend chunk as `lmc bench gpu` sets them, more running requests
for knobs in "--max-batch-tokens 16384 --chunk-size 8192" "--max-running-requests 512"; do
  for size in few_shot_mmlu:1024 llm_judge:512; do
    w=${size%%:*}; n=${size##*:}
    [ "$SECONDS" -lt 300 ] || continue
    timeout 60 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" $knobs 2>/dev/null \
      | grep '^{' | tee -a "$OUT/host_knobs.jsonl"
  done
done
timeout 150 python3 -m lmc bench run "${MODEL[@]}" --no-transformers --system lmc -w tree_of_thought -w llm_judge \
  --rows-for tree_of_thought=256 --rows-for llm_judge=512 --tries 1 --name run_cuda_scale_h200 --out-dir "$OUT" \
  > "$OUT/bench_run.log" 2>&1
[ "$SECONDS" -lt 380 ] && timeout $(( 560 - SECONDS )) python3 -m lmc bench gpu --no-transformers --name gpu_h200 \
  --out-dir "$OUT" > "$OUT/bench_gpu.log" 2>&1
echo "seconds: $SECONDS"
tail -3 "$OUT/pytest_gpu.log"; tail -14 "$OUT/bench_run.log"; tail -8 "$OUT/bench_gpu.log"
(cd "$OUT" && tar czf /tmp/gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/gpu_results.tgz .)
