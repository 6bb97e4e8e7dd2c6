#!/usr/bin/env bash
# One device call for the host KV tier: its GPU test (pinned host copies on a side stream give
# the greedy tokens of a run without the tier), then the multi-turn chat benchmark at the 8B
# dummy shape (sessions' KV 3x the 32 768-token device cache), tier off vs on. Results in $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-gpu-out}
mkdir -p "$OUT" /tmp/lmc-path
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 LMC_HOME=/tmp/lmc-home
timeout 100 python3 -m pytest -m gpu -p no:cacheprovider -q -rfEs tests/runtime/test_kv_tier.py 2>&1 | tail -15 > "$OUT/pytest_kv_tier_gpu.log"
timeout 240 python3 -m lmc.benchmarks.kv_tier --device cuda --model llama-3-8b --load-format dummy \
  --kv-cache-tokens 32768 --sessions 24 --turns 4 --out-dir "$OUT" > "$OUT/kv_tier.log" 2>&1
tail -3 "$OUT/pytest_kv_tier_gpu.log"; tail -3 "$OUT/kv_tier.log"
