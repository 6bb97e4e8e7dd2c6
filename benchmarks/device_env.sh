# Sourced by the *_gpu_check.sh scripts after they cd to the repository root (or to a copy of it
# under .dev/NAME/): makes that tree importable as `lmc`, installs the device wheels carried in
# .whl (or ../../.whl from a copy), and writes the card and date to $OUT/gpu.txt.
OUT=${OUT:-/tmp/lmc-gpu-out}
WHEELS=${WHEELS:-.whl}
[ -d "$WHEELS" ] || WHEELS=../../.whl
mkdir -p "$OUT" /tmp/lmc-path /tmp/site
ln -sfn "$PWD" /tmp/lmc-path/lmc
export PYTHONPATH=/tmp/lmc-path:/tmp/site PYTHONUNBUFFERED=1 LMC_HOME=${LMC_HOME:-/tmp/lmc-home}
unset TRITON_CACHE_DIR  # lmc's default, $LMC_HOME/triton, is what the scripts measure
if compgen -G "$WHEELS/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl 2>/dev/null
fi
{ nvidia-smi --query-gpu=name,driver_version --format=csv; date -u +%FT%TZ; } > "$OUT/gpu.txt" 2>&1
