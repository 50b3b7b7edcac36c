#!/usr/bin/env bash
# Runs a command with TMPDIR set to a folder of its own under /tmp and removes that folder afterwards,
# whatever the command's outcome: the tests, the servers they start and the Python checks leave
# nothing behind in /tmp even when one is killed part-way. (Each CLI test's home holds a 60 MB
# optimized model; left behind, runs of `make test` filled a disk.) The folder is 0755 so that the
# fleet check's PostgreSQL, run as the `postgres` user under root, can reach its own folder inside.
set -uo pipefail
scratch=$(mktemp -d /tmp/voxserve-run.XXXXXX) || exit 1
chmod 755 "$scratch"
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
TMPDIR="$scratch" "$@"
