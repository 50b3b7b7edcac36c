#!/usr/bin/env bash
# The benchmark's peer: Python piper-tts (pinned, hashed) in .deps/bench-venv. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
"$ROOT/scripts/hashed-venv.sh" "$DEPS/bench-venv" "$ROOT/scripts/requirements-bench.txt" "Python piper-tts, the benchmark's peer"
