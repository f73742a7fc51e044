#!/usr/bin/env bash
# make fuzz: builds and runs the libFuzzer target of every reader of untrusted bytes.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default: 60 s each, every target below)
#   FUZZ_OUT=dir scripts/fuzz.sh 600 npz        (findings and grown corpus in dir/TARGET)
#
# Each target is Fuzz/<Name>Fuzz.swift compiled together with the TensorIO sources as one
# module, so it reaches the readers' in-memory initialisers without going through the disk;
# CKernels and Compute (below TensorIO) are built first as their own modules. The corpus is seeded with the
# committed fixtures of that format. Findings (crash-*, leak-*, oom-*, timeout-*) stay in
# the output folder; the script fails when a target does not build or libFuzzer reports one.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
out_root=${FUZZ_OUT:-fuzz-out}

# target: source file | fixture folder | fixture glob | max input length | dictionary
targets() {
    cat <<'TABLE'
safetensors|Fuzz/SafetensorsFuzz.swift|fixtures/safetensors|*.safetensors|4096|Fuzz/safetensors.dict
npy|Fuzz/NpyFuzz.swift|fixtures/numpy|*.npy|16384|
npz|Fuzz/NpzFuzz.swift|fixtures/numpy|*.npz|16384|
pickle|Fuzz/PickleFuzz.swift|fixtures/pytorch/pickles|*.pkl|16384|Fuzz/pickle.dict
torch|Fuzz/TorchFuzz.swift|fixtures/pytorch|*.pt|16384|Fuzz/pickle.dict
gguf|Fuzz/GGUFFuzz.swift|fixtures/gguf|*.gguf|16384|Fuzz/gguf.dict
TABLE
}

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || mapfile -t wanted < <(targets | cut -d'|' -f1)

blas_include=$(pkg-config --cflags-only-I openblas 2>/dev/null | sed 's/^-I//; s/ .*//')
build="$out_root/.build"
mkdir -p "$build"
echo "== building CKernels and Compute (sanitized)"
# CKernels is a C target: SwiftPM makes its module map from include/; here it is written by hand.
mkdir -p "$build/ckernels"
printf 'module CKernels {\n    header "%s"\n    export *\n}\n' "$PWD/Sources/CKernels/include/CKernels.h" > "$build/ckernels/module.modulemap"
if ! clang -O2 -fsanitize=fuzzer-no-link,address -I Sources/CKernels/include -c Sources/CKernels/Kernels.c \
        -o "$build/CKernels.o" > "$build/ckernels.log" 2>&1 \
    || ! swiftc -parse-as-library -O -sanitize=fuzzer,address -module-name Compute \
        -emit-module -emit-module-path "$build/Compute.swiftmodule" -emit-library -static -o "$build/libCompute.a" \
        -I Sources/CBLAS -I "$build/ckernels" ${blas_include:+-Xcc -I"$blas_include"} Sources/Compute/*.swift > "$build/compute.log" 2>&1; then
    cat "$build/ckernels.log" "$build/compute.log" >&2
    exit 1
fi

status=0
for name in "${wanted[@]}"; do
    row=$(targets | grep "^$name|") || { echo "fuzz: unknown target '$name' (known: $(targets | cut -d'|' -f1 | tr '\n' ' '))" >&2; status=1; continue; }
    IFS='|' read -r _ source fixtures glob max_len dict <<< "$row"
    out="$out_root/$name"
    mkdir -p "$out/corpus"
    find "$fixtures" -name "$glob" -exec cp {} "$out/corpus/" \; 2>/dev/null || true
    echo "== $name ($seconds s)"
    if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "${name}Fuzz" \
            -I "$build" -I "$build/ckernels" -I Sources/CJSONC -I Sources/CZlib -I Sources/CBLAS ${blas_include:+-Xcc -I"$blas_include"} \
            $(find Sources/TensorIO -name "*.swift") "$source" "$build/libCompute.a" "$build/CKernels.o" \
            -ljson-c -lz -lopenblas -o "$out/$name-fuzz" > "$out/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$out/build.log" >&2
        echo "fuzz: $name does not build" >&2
        status=1
        continue
    fi
    "$out/$name-fuzz" "$out/corpus" -max_total_time="$seconds" -max_len="$max_len" ${dict:+-dict="$dict"} \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$out/" > "$out/fuzz.log" 2>&1
    code=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$out/fuzz.log"
    if [ $code -ne 0 ]; then
        tail -30 "$out/fuzz.log" >&2
        echo "fuzz: $name found a problem (exit $code); see $out" >&2
        status=1
    fi
done
exit $status
