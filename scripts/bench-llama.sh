#!/usr/bin/env bash
# LLaMA fine-tuning throughput and memory on the SmolLM-135M shape (30 layers, hidden 576,
# 9 heads / 3 key-value heads, MLP 1536, vocab 49152, tied; random weights), batch 4 x 256
# tokens, LoRA rank 16 on all seven projections, float32: loft with LoFT-AdamW (and with
# LoRA-AdamW) against PyTorch + PEFT LoRA with AdamW (scripts/bench/llama_torch.py), both
# on 2 threads, in the same run. Prints a markdown table to stdout.
# Usage: scripts/bench-llama.sh [BIN]   (default .build/release/loft)
# Environment: BENCH_STEPS (timed steps after one warm-up, default 3), BENCH_LAYERS (30),
#              PYTHON (python3).
set -euo pipefail
BIN=${1:-.build/release/loft}
STEPS=${BENCH_STEPS:-3}
LAYERS=${BENCH_LAYERS:-30}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2

field() { # json key
    "$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"
}
row() { # label json
    printf "| %s | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f |\n" "$1" \
        "$(field "$2" tokens_per_second)" "$(field "$2" seconds_per_step)" "$(field "$2" cpu_seconds_per_step)" \
        "$(field "$2" forward_backward_seconds)" "$(field "$2" optimizer_seconds)" "$(field "$2" peak_rss_mib)"
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
loft_loft=$("$BIN" experiment llama-step --optimizer loft --steps "$STEPS" --layers "$LAYERS" --json)
torch=$("$PYTHON" "$HERE/bench/llama_torch.py" --steps "$STEPS" --layers "$LAYERS" --threads 2 2>/dev/null | tail -1) || torch=""
loft_lora=$("$BIN" experiment llama-step --optimizer lora --steps "$STEPS" --layers "$LAYERS" --json)
load_after=$(cut -d' ' -f1 /proc/loadavg)

echo "### LLaMA fine-tuning step, SmolLM-135M shape"
echo
echo "Random weights, $LAYERS layers, batch 4 x 256 tokens, LoRA rank 16 on q/k/v/o/gate/up/down,"
echo "float32, 2 threads each, $STEPS timed steps after one warm-up; peak RSS = the process's"
echo "VmHWM (weights, activations, logits, optimizer state). Seconds are wall time per step;"
echo "CPU s/step is the process's CPU time (both threads), steadier when the machine is shared."
echo "$(nproc) cores; load average $load_before before, $load_after after (a shared machine: compare rows of one run)."
echo
echo "| run | tokens/s | s/step | CPU s/step | forward + backward | optimizer | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "loft, LoFT-AdamW" "$loft_loft"
row "loft, LoRA-AdamW" "$loft_lora"
if [ -n "$torch" ]; then
    row "PyTorch $(field "$torch" torch) + PEFT LoRA, AdamW ($(field "$torch" attention))" "$torch"
else
    echo "| PyTorch + PEFT | (torch, transformers or peft not importable) | | | | | |"
fi
