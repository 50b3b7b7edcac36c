#!/usr/bin/env bash
# Test fixtures made by the project itself (nothing is downloaded): small ONNX models and tokenizers.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="${VOXSERVE_DEPS:-$ROOT/.deps}"
OUT="$DEPS/test-models"
stamp="$OUT/.stamp"
sum=$(cat "$ROOT"/scripts/make_test_models.py "$ROOT"/scripts/make_chatterbox_test_models.py "$ROOT"/scripts/requirements-test.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  "$DEPS/venv/bin/python" "$ROOT/scripts/make_test_models.py" "$OUT"
  "$DEPS/venv/bin/python" "$ROOT/scripts/make_chatterbox_test_models.py" "$OUT"
  echo "$sum" > "$stamp"
fi
