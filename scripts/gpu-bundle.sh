#!/usr/bin/env bash
# make gpu-bundle: everything `make gpu-check` needs, for a bare GPU machine with no Swift and none
# of VoxServe's packages, as parts of at most 64 MiB:
#
#   voxserve-gpu-bundle/
#     run-gpu-check.sh         links CUDA/cuDNN, then runs scripts/gpu-check.sh
#     bin/voxserve             release build, Swift standard library linked statically
#     lib/                     the shared libraries it links (espeak-ng, libsndfile, soxr, FFmpeg, Rubber Band…), glibc excepted
#     share/espeak-ng-data/    espeak-ng's data (ESPEAK_DATA_PATH)
#     deps/onnxruntime-gpu/    ONNX Runtime's GPU build (lib/, versions.txt, cuda-architectures.txt); with
#                              BUNDLE_CUDA=1 also the pinned CUDA 13 / cuDNN 9 (nvidia/, about 2.4 GB)
#     deps/models/             the default voice
#     deps/test-models/        the tiny Chatterbox graphs (turbo and original)
#     scripts/                 gpu-check.sh, gpu_check.py, bench-chatterbox-batch.py, make_chatterbox_standin.py (+ the tiny models' script it
#                              builds on): the full-size graphs are made there when python3 has numpy and onnx
#
# Out: $BUNDLE_OUT (default gpu-bundle/): voxserve-gpu-bundle.tar.gz.part-000…, SHA256SUMS, HOW-TO-RUN.txt.
# The GPU machine needs the NVIDIA driver (580+), python3, and glibc at least this machine's.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
OUT="${BUNDLE_OUT:-$ROOT/gpu-bundle}"
SWIFT="${SWIFT:-swift}"
NAME=voxserve-gpu-bundle
STAGE="$OUT/$NAME"
PART_SIZE=64M
log() { printf 'gpu-bundle: %s\n' "$*" >&2; }

log "building the release binary (static Swift standard library) in .build-bundle"
(cd "$ROOT" && "$SWIFT" build -c release --product voxserve --static-swift-stdlib --scratch-path .build-bundle) >&2
BIN="$ROOT/.build-bundle/release/voxserve"

rm -rf "$OUT" && mkdir -p "$STAGE"/{bin,lib,share,deps/models,deps/test-models,scripts}
cp "$BIN" "$STAGE/bin/voxserve"
strip "$STAGE/bin/voxserve" 2>/dev/null || true

# Every shared library the binary loads, except glibc's own (the machine's must be used).
ldd "$BIN" | awk '/=> \// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|libutil.so.*|ld-linux*|libnvidia*|libcuda.so*) continue ;;
  esac
  cp -L "$lib" "$STAGE/lib/"
done
log "$(ls "$STAGE/lib" | wc -l) shared libraries in lib/"

ESPEAK_DATA=""
for d in "$DEPS/espeak-ng-data" /usr/lib/x86_64-linux-gnu/espeak-ng-data /usr/share/espeak-ng-data; do
  [ -f "$d/phontab" ] && { ESPEAK_DATA="$d"; break; }
done
[ -n "$ESPEAK_DATA" ] || { log "espeak-ng-data not found: run make setup"; exit 1; }
cp -rL "$ESPEAK_DATA" "$STAGE/share/espeak-ng-data"

cp -L "$DEPS"/models/en_US-joe-medium.onnx "$DEPS"/models/en_US-joe-medium.onnx.json "$STAGE/deps/models/"
for m in chatterbox-tiny chatterbox-tiny-original; do
  [ -d "$DEPS/test-models/$m" ] || "$ROOT/scripts/test-fixtures.sh"
  cp -rL "$DEPS/test-models/$m" "$STAGE/deps/test-models/$m"
done

GPU_DIR="$DEPS/onnxruntime-gpu"
if [ "${BUNDLE_CUDA:-0}" = "1" ]; then
  [ -f "$GPU_DIR/nvidia/cu13/lib/libcudart.so.13" ] || VOXSERVE_DEPS="$DEPS" "$ROOT/scripts/setup-gpu.sh"
  cp -rL "$GPU_DIR" "$STAGE/deps/onnxruntime-gpu"
  rm -f "$STAGE/deps/onnxruntime-gpu"/.stamp-*
elif [ -f "$GPU_DIR/lib/libonnxruntime_providers_cuda.so" ] && [ -s "$GPU_DIR/cuda-architectures.txt" ]; then
  mkdir -p "$STAGE/deps/onnxruntime-gpu"
  cp -a "$GPU_DIR/lib" "$STAGE/deps/onnxruntime-gpu/"
  cp "$GPU_DIR/cuda-architectures.txt" "$STAGE/deps/onnxruntime-gpu/"
  head -1 "$GPU_DIR/versions.txt" > "$STAGE/deps/onnxruntime-gpu/versions.txt"
else
  VOXSERVE_DEPS="$DEPS" "$ROOT/scripts/setup-gpu.sh" --ort-only "$STAGE/deps/onnxruntime-gpu"
fi

cp "$ROOT/scripts/gpu-check.sh" "$ROOT/scripts/gpu_check.py" "$ROOT/scripts/bench-chatterbox-batch.py" "$STAGE/scripts/"
cp "$ROOT/scripts/make_chatterbox_standin.py" "$ROOT/scripts/make_chatterbox_test_models.py" "$STAGE/scripts/"
cp "$ROOT/scripts/gpu-bundle-run.sh" "$STAGE/run-gpu-check.sh"

log "packing $(du -sh "$STAGE" | cut -f1) into parts of $PART_SIZE"
(cd "$OUT" && tar -cf - "$NAME" | gzip -1 | split -b "$PART_SIZE" -d -a 3 - "$NAME.tar.gz.part-")
rm -rf "$STAGE"
(cd "$OUT" && sha256sum "$NAME".tar.gz.part-* > SHA256SUMS)
cat > "$OUT/HOW-TO-RUN.txt" <<TXT
Copy this folder to the GPU machine, then:

  sha256sum -c SHA256SUMS
  cat $NAME.tar.gz.part-* | tar -xzf -
  $NAME/run-gpu-check.sh

It prints GPUCHECK RESULT: PASS or the failures (SKIPPED: no NVIDIA GPU without one). It needs the
NVIDIA driver (580 or newer), python3, glibc $(ldd --version | head -1 | awk '{print $NF}') or newer, and, unless this bundle was
made with BUNDLE_CUDA=1, CUDA 13 and cuDNN 9 libraries on the machine.
TXT
ls -la "$OUT" >&2
