#!/usr/bin/env bash
# Verifies VoxServe's CUDA path end to end on a machine with an NVIDIA GPU, in under 8 minutes:
# CUDA sessions with node placement and Memcpy counts, `doctor --json` with the default voice on
# CUDA and no fallback, Piper on CUDA vs CPU, Chatterbox (tiny and, when built, full-size
# stand-ins) on CUDA in fp32 and fp16 with RTF and time to first audio, and the server under 4
# concurrent requests. Prints `GPUCHECK RESULT: PASS` or the failures; exits 1 on failure.
# Without an NVIDIA GPU it prints `SKIPPED: no NVIDIA GPU` and exits 0.
#
# Runs from the repository (`make gpu-check`: builds the release binary, needs `make setup GPU=1`)
# or from the bundle `make gpu-bundle` makes (`./run-gpu-check.sh` there; no Swift needed).
#   VOXSERVE_BIN   the voxserve binary (default: .build/release/voxserve, or the bundle's)
#   VOXSERVE_DEPS  setup's folder (default: .deps, or the bundle's)
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export GPUCHECK_T0="${GPUCHECK_T0:-$(date +%s)}"

have_gpu() {
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L 2>/dev/null | grep -q '^GPU ' && return 0
  fi
  # No nvidia-smi: ask NVML directly (the driver's library).
  python3 - <<'PY' 2>/dev/null
import ctypes, sys
try:
    nvml = ctypes.CDLL("libnvidia-ml.so.1")
except OSError:
    sys.exit(1)
if nvml.nvmlInit_v2() != 0:
    sys.exit(1)
n = ctypes.c_uint(0)
ok = nvml.nvmlDeviceGetCount_v2(ctypes.byref(n)) == 0 and n.value > 0
nvml.nvmlShutdown()
sys.exit(0 if ok else 1)
PY
}

if [ "${GPUCHECK_ASSUME_NO_GPU:-0}" = "1" ] || ! have_gpu; then
  echo "SKIPPED: no NVIDIA GPU"
  exit 0
fi

if [ -z "${VOXSERVE_BIN:-}" ]; then
  ROOT="$(cd "$HERE/.." && pwd)"
  VOXSERVE_BIN="$ROOT/.build/release/voxserve"
  export VOXSERVE_DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
  if [ ! -x "$VOXSERVE_BIN" ] || [ "${GPUCHECK_BUILD:-1}" = "1" ]; then
    (cd "$ROOT" && make --no-print-directory build CONFIG=release GPU=1) || { echo "GPUCHECK RESULT: FAIL (the release build failed)"; exit 1; }
  fi
fi
: "${VOXSERVE_DEPS:?set VOXSERVE_DEPS}"
# The full-size Chatterbox stand-ins (about 2 GB), made once where numpy and onnx are at hand.
STANDIN="$VOXSERVE_DEPS/test-models/chatterbox-standin"
if [ ! -d "$STANDIN" ] && [ -f "$HERE/make_chatterbox_standin.py" ]; then
  for py in "$VOXSERVE_DEPS/venv/bin/python" python3; do
    if "$py" -c 'import numpy, onnx' 2>/dev/null; then
      echo "gpu-check: generating the full-size Chatterbox stand-in graphs"
      timeout 120 "$py" "$HERE/make_chatterbox_standin.py" "$STANDIN" || rm -rf "$STANDIN"
      break
    fi
  done
fi
exec python3 "$HERE/gpu_check.py" --bin "$VOXSERVE_BIN" --deps "${VOXSERVE_DEPS:?set VOXSERVE_DEPS}"
