#!/usr/bin/env bash
# Time per optimizer step on one 4096 x 4096 weight: LoFT-AdamW and LoRA-AdamW pairs at
# rank 16 and 64, and dense AdamW on the whole matrix. Prints a markdown table to stdout.
# Usage: scripts/bench-optimizer.sh [BIN]   (default .build/release/loft)
# Environment: BENCH_STEPS (timed steps per run, default 10; rank 64 LoFT runs a third of it).
set -euo pipefail
BIN=${1:-.build/release/loft}
STEPS=${BENCH_STEPS:-10}
SIZE=4096

run() { # method rank steps
    "$BIN" experiment optimizer-step --m $SIZE --n $SIZE --method "$1" --rank "$2" --steps "$3" --json
}

field() { # json key
    python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2" 2>/dev/null ||
        echo "$1" | tr -d '\n ' | sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p"
}

dense=$(run adamw 16 "$STEPS")
dense_cpu=$(field "$dense" cpu_ms_per_step)

echo "### Optimizer step, one ${SIZE} x ${SIZE} weight"
echo
echo "Wall and CPU time per step (CPU = all threads; steadier on a shared machine), optimizer"
echo "state, and transient memory (peak resident set during the steps minus the resident set"
echo "before them). Ratio = CPU time / dense AdamW's CPU time. $(nproc) cores, OpenBLAS."
echo
echo "| method | rank | wall ms/step | CPU ms/step | vs dense AdamW | state MiB | transient MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row() { # label json
    local cpu rank; cpu=$(field "$2" cpu_ms_per_step); rank=$(field "$2" rank)
    [ "$rank" = 0 ] && rank="-"
    printf "| %s | %s | %.1f | %.1f | %.2fx | %.1f | %.1f |\n" "$1" "$rank" \
        "$(field "$2" ms_per_step)" "$cpu" "$(python3 -c "print($cpu / $dense_cpu)")" \
        "$(field "$2" state_mib)" "$(field "$2" transient_mib)"
}
row "dense AdamW (whole matrix)" "$dense"
for rank in 16 64; do
    steps=$STEPS
    [ "$rank" -ge 64 ] && steps=$(( (STEPS + 2) / 3 ))
    row "LoRA-AdamW" "$(run lora "$rank" "$STEPS")"
    row "LoFT-AdamW" "$(run loft "$rank" "$steps")"
done
