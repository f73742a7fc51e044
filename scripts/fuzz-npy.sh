#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the .npy reader.
#   scripts/fuzz-npy.sh [SECONDS] [OUTPUT_DIR]     (defaults: 60, fuzz-out/npy)
# The corpus is seeded with every committed .npy fixture, valid and malformed; findings
# (crash-*, leak-*, oom-*, timeout-*) and the grown corpus stay in OUTPUT_DIR, the log in
# OUTPUT_DIR/fuzz.log.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=${2:-fuzz-out/npy}
mkdir -p "$OUT/corpus" "$OUT/bin"
find fixtures/numpy -name '*.npy' -exec cp {} "$OUT/corpus/" \; 2>/dev/null || true

swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name NpyFuzz \
    -I Sources/CJSONC -I Sources/CZlib \
    $(find Sources/TensorIO -name "*.swift") Fuzz/NpyFuzz.swift \
    -ljson-c -lz -o "$OUT/bin/npy-fuzz"

"$OUT/bin/npy-fuzz" "$OUT/corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=16384 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/" 2>&1 | tee "$OUT/fuzz.log" | tail -25
