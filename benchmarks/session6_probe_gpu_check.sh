#!/usr/bin/env bash
# Session 6's first device call (about 5 minutes): the GPU kernel tests after the attend_range
# refactor, then each issue-16 workload through host_profile at the 8B dummy shape, once plain
# (warm Triton cache) and once under cProfile, so the host's time can be placed before it is cut.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
MODEL=(--model llama-3-8b --load-format dummy --device cuda)
timeout 150 python3 -m pytest -m gpu -p no:cacheprovider -rfEs tests/runtime/test_engine_gpu.py \
  tests/runtime/test_cuda_graph.py tests/runtime/test_vocab_bound.py tests/runtime/test_cascade_gpu.py \
  tests/kernels > "$OUT/pytest_gpu.log" 2>&1
for size in few_shot_mmlu:1024 tree_of_thought:256 llm_judge:512; do
  w=${size%%:*}; n=${size##*:}
  timeout 60 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" 2>/dev/null \
    | grep '^{' | tee -a "$OUT/host_plain.jsonl"
  [ "$SECONDS" -lt 420 ] || continue
  timeout 80 python3 -m lmc.benchmarks.host_profile "${MODEL[@]}" --workload "$w" --rows "$n" --profile --top 60 \
    > "$OUT/profile_$w.txt" 2>&1
done
echo "seconds: $SECONDS"
tail -3 "$OUT/pytest_gpu.log"
(cd "$OUT" && tar czf /tmp/gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/gpu_results.tgz .)
