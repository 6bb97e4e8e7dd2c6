#!/usr/bin/env bash
# Start-up at the 8B dummy shape on one GPU (issue 16, item 6), about 3 minutes: a cold start
# (empty LMC_HOME: the `tiny` model whose tokenizer the preset borrows is built, every Triton
# kernel compiles), two warm starts (caches present), a warm start without CUDA graphs (the
# difference is capture) and a profiled warm start, whose top functions go to a text file.
# Everything lands in $OUT, tarred. Run from the repository root or from .dev/<name>/.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lmc-gpu-out}
WHL=.whl
[ -d "$WHL" ] || WHL=../../.whl
mkdir -p "$OUT" /tmp/lmc-path /tmp/site
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path:/tmp/site PYTHONUNBUFFERED=1 LMC_HOME=/tmp/lmc-home-startup
unset TRITON_CACHE_DIR  # lmc's default, $LMC_HOME/triton, is what is measured
rm -rf "$LMC_HOME"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHL"/*.whl
nvidia-smi --query-gpu=name,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
read -ra SHAPE <<< "${STARTUP_MODEL:---model llama-3-8b --load-format dummy --device cuda}"  # CPU dry run: --model tiny
START=(python3 -m lmc.benchmarks.startup "${SHAPE[@]}")
run() {  # name, extra args...
  local name=$1; shift
  timeout 150 "${START[@]}" "$@" > "$OUT/$name.json" 2> "$OUT/$name.log"
  echo "$name: rc=$? $(cat "$OUT/$name.json")" >> "$OUT/summary.txt"
}
run startup_cold
run startup_warm1
run startup_warm2
run startup_warm_no_graphs --no-cuda-graph
run startup_warm_profiled --profile "$OUT/startup_warm.prof"
python3 -c "import pstats, sys; s = pstats.Stats(sys.argv[1], stream=open(sys.argv[2], 'w')); \
s.sort_stats('cumulative').print_stats(60); s.sort_stats('tottime').print_stats(40)" \
  "$OUT/startup_warm.prof" "$OUT/startup_warm_profile.txt"
echo "triton cache files: $(find "$LMC_HOME/triton" -type f 2>/dev/null | wc -l)" >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
(cd "$OUT" && tar czf /tmp/startup_results.tgz . && find . -mindepth 1 -delete && mv /tmp/startup_results.tgz .)
