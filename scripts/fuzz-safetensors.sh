#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the safetensors reader.
#   scripts/fuzz-safetensors.sh [SECONDS] [OUTPUT_DIR]     (defaults: 60, fuzz-out/safetensors)
# The corpus is seeded with every committed safetensors fixture; findings (crash-*, leak-*)
# and the grown corpus stay in OUTPUT_DIR, the log in OUTPUT_DIR/fuzz.log.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=${2:-fuzz-out/safetensors}
mkdir -p "$OUT/corpus" "$OUT/bin"
find fixtures/safetensors -name '*.safetensors' -exec cp {} "$OUT/corpus/" \; 2>/dev/null || true

# The TensorIO sources and the target compile as one module, so the target reaches the
# reader's in-memory initialiser without going through the disk.
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SafetensorsFuzz \
    -I Sources/CJSONC -I Sources/CZlib \
    $(find Sources/TensorIO -name "*.swift") Fuzz/SafetensorsFuzz.swift \
    -ljson-c -lz -o "$OUT/bin/safetensors-fuzz" > "$OUT/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$OUT/build.log" >&2
    exit 1
fi

"$OUT/bin/safetensors-fuzz" "$OUT/corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 \
    -dict=Fuzz/safetensors.dict -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/" 2>&1 | tee "$OUT/fuzz.log" | tail -25
