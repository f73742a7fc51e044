#!/usr/bin/env bash
# The main job on the shipped default; grows as the commands land.
set -euo pipefail
loft=${1:-.build/release/loft}
out=demo-out
mkdir -p "$out"
"$loft" --help
echo "demo outputs: $out/"
