#!/usr/bin/env bash
# The stand-ins' Python: chatterbox-tts's model classes on CPU torch, ONNX Runtime 1.32 (the version
# VoxServe links), pinned and hashed, in .deps/standin-venv. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
VENV="$DEPS/standin-venv"
REQ="$ROOT/scripts/requirements-standin.txt"
if ! cmp -s "$REQ" "$VENV/.requirements" 2>/dev/null; then
  echo "setup: creating $VENV (chatterbox-tts on CPU torch, for the full-size stand-ins)" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
