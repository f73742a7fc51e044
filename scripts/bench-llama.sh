#!/usr/bin/env bash
# Fine-tuning throughput, memory and model FLOPs utilisation (MFU) on two shapes with random
# weights, batch 4 x 256 tokens, LoRA rank 16 on every projection:
#   SmolLM-135M (LLaMA layout: 30 layers, hidden 576, 9 heads / 3 key-value heads, MLP 1536,
#   vocab 49152, tied) and GPT-2 124M (12 layers x 768, vocab 50257, tied);
# loft with LoFT-AdamW and LoRA-AdamW, the base in float32, held in bf16 (--base-dtype) and
# computed in float32, and held and computed in bf16 (--base-compute bf16, AVX-512 BF16);
# LoFT-AdamW with the base quantized to q8_0 and q4_k;
# against PyTorch + PEFT LoRA with AdamW (scripts/bench/llama_torch.py) with its base in
# float32 and in bf16, all on 2 threads, in the same run. MFU = the step's matrix-product
# FLOPs (Experiments/StepFlops.swift) per second of step time over the sgemm rate loft
# measures in the same process right after its steps; a PyTorch row is set against the rate
# of the loft row before it (same shape, same FLOPs). Prints a markdown table to stdout.
# Usage: scripts/bench-llama.sh [BIN]   (default .build/release/loft)
# Environment: BENCH_STEPS (timed steps after one warm-up, default 3), BENCH_LAYERS (the
#              shapes' own depth when unset), BENCH_SHAPES ("smollm-135m gpt2-124m"),
#              BENCH_REPEATS (processes per row, the fastest kept, default 2),
#              PYTHON (python3).
set -euo pipefail
BIN=${1:-.build/release/loft}
STEPS=${BENCH_STEPS:-3}
REPEATS=${BENCH_REPEATS:-2}
SHAPES=${BENCH_SHAPES:-smollm-135m gpt2-124m}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
layers=()
[ -n "${BENCH_LAYERS:-}" ] && layers=(--layers "$BENCH_LAYERS")

field() { # json key
    "$PYTHON" -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"
}
# row label json [reference-loft-json]: MFU from the row's own figures, or for PyTorch from
# the reference loft row's FLOPs and sgemm rate.
row() {
    "$PYTHON" - "$1" "$2" "${3:-}" <<'PY'
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
ref = json.loads(sys.argv[3]) if sys.argv[3] else r
mfu = ref["matrix_gflop_per_step"] / r["seconds_per_step"] / ref["sgemm_gflops"]
share = r["optimizer_seconds"] / r["seconds_per_step"]
print(f"| {label} | {r['tokens_per_second']:.1f} | {r['seconds_per_step']:.2f} | {r['cpu_seconds_per_step']:.2f} | "
      f"{r['forward_backward_seconds']:.2f} | {r['optimizer_seconds']:.2f} ({100 * share:.0f}%) | {100 * mfu:.0f}% | {r['peak_rss_mib']:.0f} |")
PY
}
loft_step() { # shape optimizer base-dtype [base-compute]
    "$BIN" experiment llama-step --shape "$1" --optimizer "$2" --base-dtype "$3" --base-compute "${4:-f32}" --steps "$STEPS" "${layers[@]}" --json
}
torch_step() { # shape base-dtype
    "$PYTHON" "$HERE/bench/llama_torch.py" --shape "$1" --base-dtype "$2" --steps "$STEPS" "${layers[@]}" --threads 2 2>/dev/null | tail -1
}

# faster json-a json-b: the run with more tokens/s (an empty one loses).
faster() {
    "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
runs = [json.loads(text) for text in sys.argv[1:] if text.strip()]
print(json.dumps(max(runs, key=lambda r: r["tokens_per_second"])) if runs else "")
PY
}

shapes_note=""
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
table=""
# Each configuration runs REPEATS times, the rounds interleaved, and its fastest run is kept:
# the host's speed drifts by up to 30% over minutes, so one process per row can land on a
# slow stretch; the fastest of a few, for loft and PyTorch alike, is each one's speed.
configs="loft:f32 lora:f32 loft:bf16 lora:bf16 loft:bf16:bf16 lora:bf16:bf16 loft:q8_0 loft:q4_k torch:f32 torch:bf16"
for shape in $SHAPES; do
    declare -A best=()
    for _ in $(seq "$REPEATS"); do
        for config in $configs; do
            IFS=: read -r optimizer dtype compute <<<"$config"
            if [ "$optimizer" = torch ]; then run=$(torch_step "$shape" "$dtype" || true)
            else run=$(loft_step "$shape" "$optimizer" "$dtype" "${compute:-f32}"); fi
            best[$config]=$(faster "${best[$config]:-}" "$run")
        done
    done
    table+="$(row "$shape, loft LoFT-AdamW, f32 base" "${best[loft:f32]}")"$'\n'
    table+="$(row "$shape, loft LoRA-AdamW, f32 base" "${best[lora:f32]}")"$'\n'
    table+="$(row "$shape, loft LoFT-AdamW, bf16 base" "${best[loft:bf16]}")"$'\n'
    table+="$(row "$shape, loft LoRA-AdamW, bf16 base" "${best[lora:bf16]}")"$'\n'
    table+="$(row "$shape, loft LoFT-AdamW, bf16 base, bf16 compute" "${best[loft:bf16:bf16]}")"$'\n'
    table+="$(row "$shape, loft LoRA-AdamW, bf16 base, bf16 compute" "${best[lora:bf16:bf16]}")"$'\n'
    # Block-quantized bases (quantized at load by loft's quantizer; SmolLM's rows of 576 are
    # not whole Q4_K super-blocks, so q4_k holds most of its matrices in Q5_0, as llama-quantize).
    for quantized in q8_0 q4_k; do
        table+="$(row "$shape, loft LoFT-AdamW, $quantized base" "${best[loft:$quantized]}")"$'\n'
    done
    for dtype in f32 bf16; do
        torch=${best[torch:$dtype]}
        if [ -n "$torch" ]; then
            reference=${best[lora:f32]}; [ "$dtype" = bf16 ] && reference=${best[lora:bf16]}
            table+="$(row "$shape, PyTorch $(field "$torch" torch) + PEFT LoRA, AdamW, $dtype base ($(field "$torch" attention))" "$torch" "$reference")"$'\n'
        else
            table+="| $shape, PyTorch + PEFT, $dtype base | (torch, transformers or peft not importable) | | | | | | |"$'\n'
        fi
    done
    sgemm=$(field "${best[loft:f32]}" sgemm_gflops)
    flops=$(field "${best[loft:f32]}" matrix_gflop_per_step)
    shapes_note+="$shape: $(printf '%.0f' "$flops") GFLOP of matrix products per step, sgemm $(printf '%.1f' "$sgemm") GFLOP/s in the LoFT f32 run. "
    unset best
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "### Fine-tuning step: SmolLM-135M and GPT-2 124M shapes"
echo
echo "Random weights, batch 4 x 256 tokens, LoRA rank 16 on every projection (LLaMA: q/k/v/o/gate/up/down;"
echo "GPT-2: c_attn, c_proj, c_fc), 2 threads each, $STEPS timed steps after one warm-up, the fastest of"
echo "$REPEATS processes per row (rounds interleaved: the host's speed drifts over minutes). The base is"
echo "float32, or held in bf16 (loft: \`--base-dtype bf16\`, widened to float32 tile by tile, or with"
echo "\`--base-compute bf16\` multiplied in bf16 with AVX-512 BF16, activations rounded to bf16; PyTorch:"
echo "\`model.to(torch.bfloat16)\`, PEFT's factors float32). Seconds are wall time per step; CPU s/step is"
echo "the process's CPU time (both threads). optimizer = its seconds per step and share of the step."
echo "MFU = matrix-product FLOPs per step / step time / sgemm's rate measured in the same run (a PyTorch"
echo "row uses the FLOPs and sgemm rate of the loft LoRA row of its shape and base dtype). peak RSS = VmHWM."
echo "${shapes_note}"
echo "$(nproc) cores; load average $load_before before, $load_after after (a shared machine: compare rows of one run)."
echo
echo "| run | tokens/s | s/step | CPU s/step | forward + backward | optimizer (share) | MFU | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$table"
