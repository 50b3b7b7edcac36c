#!/usr/bin/env bash
# The benchmark's peer: Python piper-tts (pinned, hashed) in .deps/bench-venv. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
VENV="$DEPS/bench-venv"
REQ="$ROOT/scripts/requirements-bench.txt"
if ! cmp -s "$REQ" "$VENV/.requirements" 2>/dev/null; then
  echo "setup: creating $VENV (Python piper-tts, the benchmark's peer)" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
