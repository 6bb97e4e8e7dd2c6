#!/usr/bin/env bash
# One device call after the session's merges: the GPU tests, every example plan through `lmc run`
# at the 8B dummy shape (benchmarks/run_gpu_check.sh), then `lmc bench serve` on the GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-gpu-out}
mkdir -p "$OUT" /tmp/lmc-path /tmp/site
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path:/tmp/site PYTHONUNBUFFERED=1 LMC_HOME=/tmp/lmc-home
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
timeout 130 python3 -m pytest -m gpu -p no:cacheprovider -q -rfEs tests/runtime/test_engine_gpu.py \
  tests/runtime/test_cuda_graph.py tests/runtime/test_vocab_bound.py 2>&1 | tail -30 > "$OUT/pytest_gpu.log"
WHEELS=/nonexistent BUDGET_S=320 bash benchmarks/run_gpu_check.sh > "$OUT/run_gpu_check.log" 2>&1
timeout 120 python3 -m lmc bench serve --device cuda --model llama-3-8b --load-format dummy --new-tokens 64 \
  --clients 1 --clients 8 --clients 32 --requests-per-client 2 --name serve_h200 --out-dir "$OUT" > "$OUT/bench_serve.log" 2>&1
tail -5 "$OUT/pytest_gpu.log"; cat "$OUT/examples.txt" 2>/dev/null; tail -15 "$OUT/bench_serve.log"
(cd "$OUT" && tar czf /tmp/gpu_results.tgz . && find . -mindepth 1 -delete && mv /tmp/gpu_results.tgz .)
