#!/usr/bin/env bash
# make fuzz: runs every scripts/fuzz-*.sh (one per reader: safetensors, npy, npz) for
# SECONDS each (default 60), one after another; fails if any of them fails.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
status=0
found=0
for script in scripts/fuzz-*.sh; do
    [ -e "$script" ] || continue
    found=1
    echo "== $script ($seconds s)"
    if ! bash "$script" "$seconds"; then
        echo "fuzz: $script failed" >&2
        status=1
    fi
done
[ "$found" = 1 ] || { echo "fuzz: no scripts/fuzz-*.sh found" >&2; exit 1; }
exit $status
