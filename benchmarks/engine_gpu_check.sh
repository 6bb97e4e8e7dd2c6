#!/usr/bin/env bash
# One device call for the engine on a GPU: its GPU tests, then `lmc bench gpu` (Llama-3-8B shape,
# dummy bf16 weights, transformers beside it). Logs and JSON go to $OUT. Runs from a plain copy of
# the repo: `lmc` is put on the path through a link; carried wheels in .whl-engine/ (mistral-common for
# the tokenizer files, lark, flashinfer's trimmed tree) are unpacked first.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-engine-out}
mkdir -p "$OUT" /tmp/lmc-path /tmp/site
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path:/tmp/site PYTHONUNBUFFERED=1
if [ -d .whl-engine ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl-engine/*.whl
  [ -f .whl-engine/flashinfer_trim.tar.gz ] && tar xzf .whl-engine/flashinfer_trim.tar.gz -C /tmp/site
fi
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$OUT/gpu.txt"
timeout "${TEST_TIMEOUT:-200}" python3 -m pytest -m gpu -p no:cacheprovider -rfEs \
  tests/runtime/test_engine_gpu.py tests/runtime/test_cuda_graph.py 2>&1 | tee "$OUT/pytest_engine_gpu.log"
python3 -m lmc bench gpu --out-dir "$OUT" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench_gpu.log"
