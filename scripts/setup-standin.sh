#!/usr/bin/env bash
# The stand-ins' Python: chatterbox-tts's model classes on CPU torch, ONNX Runtime 1.32 (the version
# VoxServe links), pinned and hashed, in .deps/standin-venv. Idempotent. --no-deps: every package
# is pinned in the requirements file, so chatterbox-tts's own CUDA torch and gradio stay out.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
"$ROOT/scripts/hashed-venv.sh" "$DEPS/standin-venv" "$ROOT/scripts/requirements-standin.txt" \
  "chatterbox-tts on CPU torch, for the full-size stand-ins" --no-deps
