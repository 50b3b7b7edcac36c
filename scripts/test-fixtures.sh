#!/usr/bin/env bash
# Test fixtures made by the project (nothing downloaded): nothing here yet.
set -euo pipefail
