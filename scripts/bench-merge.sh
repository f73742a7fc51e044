#!/usr/bin/env bash
# loft merge vs PEFT (merge_and_unload + save_pretrained): markdown table on stdout.
# Usage: scripts/bench-merge.sh path/to/loft [merge_bench.py options]
set -euo pipefail
BIN=${1:?usage: scripts/bench-merge.sh LOFT_BINARY}
shift
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/bench/merge_bench.py "$BIN" "$@"
