#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the .npz reader.
#   scripts/fuzz-npz.sh [SECONDS] [OUTPUT_DIR]     (defaults: 60, fuzz-out/npz)
# The corpus is seeded with every committed .npz fixture, valid and malformed; findings
# (crash-*, leak-*, oom-*, timeout-*) and the grown corpus stay in OUTPUT_DIR, the log in
# OUTPUT_DIR/fuzz.log.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=${2:-fuzz-out/npz}
mkdir -p "$OUT/corpus" "$OUT/bin"
find fixtures/numpy -name '*.npz' -exec cp {} "$OUT/corpus/" \; 2>/dev/null || true

swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name NpzFuzz \
    -I Sources/CJSONC -I Sources/CZlib \
    $(find Sources/TensorIO -name "*.swift") Fuzz/NpzFuzz.swift \
    -ljson-c -lz -o "$OUT/bin/npz-fuzz"

"$OUT/bin/npz-fuzz" "$OUT/corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=16384 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/" 2>&1 | tee "$OUT/fuzz.log" | tail -25
