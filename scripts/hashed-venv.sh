#!/usr/bin/env bash
# A Python virtual environment holding exactly a requirements file's pinned, hashed wheels, made
# again only when that file changes. Shared by setup.sh (the tests' venv), setup-bench.sh and
# setup-standin.sh.
# Usage: hashed-venv.sh VENV REQUIREMENTS WHAT [more pip install arguments]
set -euo pipefail
VENV="$1"
REQ="$2"
WHAT="$3"
shift 3
if ! cmp -s "$REQ" "$VENV/.requirements" 2>/dev/null; then
  echo "setup: creating $VENV ($WHAT)" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: "$@" -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
