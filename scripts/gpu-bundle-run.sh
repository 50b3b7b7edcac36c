#!/usr/bin/env bash
# run-gpu-check.sh: `make gpu-check` from the bundle `make gpu-bundle` makes, on a bare GPU machine
# (no Swift, none of VoxServe's packages; python3 and the NVIDIA driver, 580 or newer, are needed).
#
#   cat voxserve-gpu-bundle.tar.gz.part-* | tar -xzf - && voxserve-gpu-bundle/run-gpu-check.sh
#
# ONNX Runtime's CUDA provider needs CUDA 13 and cuDNN 9 (for CUDA 13). A bundle made with
# BUNDLE_CUDA=1 carries the pinned ones; otherwise, and for any the bundle lacks, this script uses
# the machine's own, found by soname in the usual places (CUDA_HOME, /usr/local/cuda*, the loader's
# cache, pip's nvidia packages, CUDNN_PATH), and links them where VoxServe preloads them from.
set -uo pipefail
B="$(cd "$(dirname "$0")" && pwd)"
NV="$B/deps/onnxruntime-gpu/nvidia"

# Without a GPU (nvidia-smi lists none) there is nothing to link: the check says SKIPPED.
if [ "${GPUCHECK_ASSUME_NO_GPU:-0}" = 1 ] || ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; }; then
  VOXSERVE_BIN="$B/bin/voxserve" VOXSERVE_DEPS="$B/deps" exec "$B/scripts/gpu-check.sh"
fi

# The libraries VoxONNX preloads (CUDALibraries.loadOrder), folder/soname.
SONAMES="cu13/lib/libcudart.so.13 cu13/lib/libnvJitLink.so.13 cu13/lib/libnvrtc.so.13 cu13/lib/libcublasLt.so.13 cu13/lib/libcublas.so.13 cu13/lib/libcurand.so.10 cu13/lib/libcufft.so.12 cudnn/lib/libcudnn.so.9 cudnn/lib/libcudnn_graph.so.9 cudnn/lib/libcudnn_ops.so.9 cudnn/lib/libcudnn_cnn.so.9 cudnn/lib/libcudnn_adv.so.9 cudnn/lib/libcudnn_heuristic.so.9 cudnn/lib/libcudnn_engines_precompiled.so.9 cudnn/lib/libcudnn_engines_runtime_compiled.so.9 cudnn/lib/libcudnn_engines_tensor_ir.so.9 cudnn/lib/libcudnn_ext.so.9"

search_dirs() {
  for d in "${CUDA_HOME:-}/lib64" "${CUDA_HOME:-}/targets/x86_64-linux/lib" "${CUDNN_PATH:-}/lib" "${CUDNN_PATH:-}/lib64" \
    /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/targets/x86_64-linux/lib \
    /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib /opt/conda/lib; do
    [ -d "$d" ] && echo "$d"
  done
  ldconfig -p 2>/dev/null | awk -F'=> ' '/libcud|libcublas|libnvrtc|libnvJitLink|libcurand|libcufft/ {print $2}' | xargs -r -n1 dirname | sort -u
  python3 - <<'PY' 2>/dev/null
import glob, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("site-packages")]
for root in roots:
    for d in glob.glob(root + "/nvidia/*/lib") + glob.glob(root + "/nvidia/cu13/lib"):
        print(d)
PY
}

DIRS="$(search_dirs | awk '!seen[$0]++')"
missing=()
from_machine=0
for entry in $SONAMES; do
  target="$NV/$entry"
  [ -e "$target" ] && continue
  name="$(basename "$entry")"
  found=""
  for d in $DIRS; do
    if [ -e "$d/$name" ]; then found="$d/$name"; break; fi
  done
  if [ -n "$found" ]; then
    mkdir -p "$(dirname "$target")"
    ln -sf "$(readlink -f "$found")" "$target"
    from_machine=$((from_machine + 1))
  else
    missing+=("$name")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "GPUCHECK RESULT: FAIL"
  echo "  - CUDA 13 / cuDNN 9 libraries neither in the bundle nor on this machine: ${missing[*]}"
  echo "    Install the CUDA 13 runtime and cuDNN 9 for CUDA 13 (or pip install onnxruntime-gpu[cuda,cudnn]),"
  echo "    or make the bundle with BUNDLE_CUDA=1 to carry the pinned ones."
  exit 1
fi
[ "$from_machine" -gt 0 ] && echo "run-gpu-check: $from_machine CUDA/cuDNN libraries taken from this machine (linked into $NV)"

export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ESPEAK_DATA_PATH="$B/share"
export VOXSERVE_BIN="$B/bin/voxserve" VOXSERVE_DEPS="$B/deps"
exec "$B/scripts/gpu-check.sh"
