#!/usr/bin/env bash
# Session 7's device call (about 8 minutes): the GPU tests incl. the device clock's, every example
# plan through `lmc run` at the 8B shape (row errors counted), then each issue-16 workload through
# host_profile with the corrected device clock, twice at the engine's default budgets and twice with
# 512 running requests, alternating so machine drift hits both alike.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
timeout 150 python3 -m pytest -m gpu -p no:cacheprovider -rfEs tests/runtime/test_device_clock.py \
  tests/runtime/test_engine_gpu.py tests/runtime/test_vocab_bound.py tests/runtime/test_cascade_gpu.py \
  > "$OUT/pytest_gpu.log" 2>&1
tail -2 "$OUT/pytest_gpu.log"
mkdir -p /tmp/plans "$OUT/examples"
for ex in examples/*.py; do
  name=$(basename "$ex" .py)
  [ -f "examples/data/$name.jsonl" ] || continue
  { python3 -m lmc compile "$ex" -o "/tmp/plans/$name.json" || python3 -m lmc compile "$ex" --program "$name" -o "/tmp/plans/$name.json"; } > /dev/null 2>&1 || { echo "$name: compile failed" | tee -a "$OUT/examples.txt"; continue; }
  start=$(date +%s%N)
  timeout 90 python3 -m lmc run "/tmp/plans/$name.json" --inputs "examples/data/$name.jsonl" -o "$OUT/examples/$name.out.jsonl" \
    "${MODEL[@]}" > "$OUT/examples/$name.log" 2>&1
  rc=$?
  echo "$name: rc=$rc rows=$(wc -l < "$OUT/examples/$name.out.jsonl") errors=$(grep -c '"error"' "$OUT/examples/$name.out.jsonl") wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))" | tee -a "$OUT/examples.txt"
done
echo "seconds after examples: $SECONDS"
for size in llm_judge:512 tree_of_thought:256 few_shot_mmlu:1024; do
  w=${size%%:*}; n=${size##*:}
  for knobs in default 512 default 512; do
    [ "$SECONDS" -lt 540 ] || break
    if [ "$knobs" = 512 ]; then extra=(--max-running-requests 512); else extra=(); fi
    line=$(timeout 60 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" "${extra[@]}" 2>/dev/null | grep '^{')
    echo "{\"knobs\": \"$knobs\", \"workload\": \"$w\", \"rows\": $n, \"profile\": ${line:-null}}" | tee -a "$OUT/host_profile.jsonl"
  done
done
echo "seconds: $SECONDS"
(cd "$OUT" && tar czf /tmp/gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/gpu_results.tgz .)
