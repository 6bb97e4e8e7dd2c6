#!/usr/bin/env bash
# One device call for shared-prefix (cascade) attention: `lmc bench cascade` (few-shot shape, its
# decode step and the kernels, cascade on and off), then its GPU tests (kernels at real sizes,
# engine greedy parity) and the engine GPU tests it touches (decode graphs). Run from a
# copy of the tree with the device wheels at ../../.whl (see benchmarks/results/session5_h200).
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/device_env.sh
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" >> "$OUT/gpu.txt"
timeout ${BENCH_S:-120} python3 -m lmc bench cascade --repeats ${REPEATS:-2} --out-dir "$OUT" > "$OUT/bench.log" 2>&1
timeout ${TEST_S:-110} python3 -m pytest -m gpu -p no:cacheprovider -rfEs tests/kernels/test_shared_prefix_attention.py \
  tests/runtime/test_cascade_gpu.py tests/runtime/test_engine_gpu.py tests/runtime/test_cuda_graph.py 2>&1 | tail -40 > "$OUT/pytest_gpu.log"
tail -5 "$OUT/pytest_gpu.log"; tail -20 "$OUT/bench.log"
