#!/usr/bin/env bash
# One device call for the kernels: GPU tests, then the kernel benchmark; logs and JSON go to $OUT.
# Runs from a plain copy of the repo (no pip install): `lmc` is put on the path through a link.
# If .whl/ was carried, flashinfer (a trimmed tree) and its missing dependency are unpacked first.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-kernels-out}
mkdir -p "$OUT" /tmp/lmc-path
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  mkdir -p /tmp/site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl 2>&1 | tee "$OUT/flashinfer_install.log"
  tar xzf .whl/flashinfer_trim.tar.gz -C /tmp/site
  export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv \
  | tee "$OUT/gpu.txt"
python3 -c 'import torch, triton; print(torch.__version__, triton.__version__)' | tee -a "$OUT/gpu.txt"

python3 -m pytest -m gpu -n 14 -p no:cacheprovider -rfEs \
  tests/kernels/test_triton_attention.py tests/kernels/test_triton_ops.py 2>&1 \
  | tee "$OUT/pytest_triton.log"
bench_flags=()
if timeout "${FLASHINFER_TIMEOUT:-240}" python3 -m pytest -m gpu -p no:cacheprovider -rfEs -x \
  tests/kernels/test_flashinfer.py 2>&1 | tee "$OUT/pytest_flashinfer.log" \
  && grep -q passed "$OUT/pytest_flashinfer.log"; then
  bench_flags+=(--flashinfer)  # its kernels are built and right: time them too
fi
python3 -m lmc.benchmarks.kernels --out "$OUT" "${bench_flags[@]}" 2>&1 | tee "$OUT/bench.log"
