#!/usr/bin/env bash
# Warm-cache re-measure of the host path: the Triton cache filled by a first pass, then measured.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
for pass in warmup measured; do
  for size in few_shot_mmlu:1024 tree_of_thought:256 llm_judge:512; do
    w=${size%%:*}; n=${size##*:}
    [ "$pass" = warmup ] && [ "$w" = llm_judge ] && continue
    [ "$SECONDS" -lt 170 ] || continue
    timeout 60 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" 2>/dev/null | grep '^{' \
      | sed "s/^{/{\"pass\": \"$pass\", /" | tee -a "$OUT/host_warm.jsonl"
  done
done
echo "seconds: $SECONDS"
