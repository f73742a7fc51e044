#!/usr/bin/env bash
# Data-parallel `loft finetune` under Open MPI (docs/distributed.md): tokens/s and gradient
# all-reduce time per step for 1 process (all cores) and 2 ranks (one core each) on this
# machine, LoFT rank 8 on a randomly initialised GPT-2 124M shape (12 layers, 768 wide,
# default targets c_attn,c_proj), batch 4 x 128 tokens, no evaluation; then a projection
# for 8 and 64 ranks from the measured compute and all-reduce times. Prints markdown.
# Usage: scripts/bench-mpi.sh [BIN]   (default .build/release/loft)
# Environment: BENCH_MPI_STEPS (steps, the first is not timed; default 4).
set -euo pipefail
BIN=$(realpath "${1:-.build/release/loft}")
STEPS=${BENCH_MPI_STEPS:-4}
command -v mpirun >/dev/null || { echo "Not measured: Open MPI's mpirun is not installed (apt-get install openmpi-bin)."; exit 0; }
work=bench-out/mpi
rm -rf "$work"; mkdir -p "$work"
cat > "$work/config.json" <<'JSON'
{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257,
 "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05, "tie_word_embeddings": true}
JSON
python3 -c "import numpy as np; np.save('$work/tokens.npy', np.random.default_rng(0).integers(0, 50257, 200000).astype(np.uint16))"
args=(finetune --init "$work/config.json" --data "$work/tokens.npy" --steps "$STEPS" --batch 4 --seq 128 --eval-interval 1000)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
load_before=$(cut -d' ' -f1 /proc/loadavg)
"$BIN" "${args[@]}" --out "$work/n1" >/dev/null 2>&1
mpirun -np 2 --bind-to core "$BIN" "${args[@]}" --out "$work/n2" >/dev/null 2>&1
load_after=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$work" "$load_before" "$load_after" "$(nproc)" <<'PY'
import json, statistics, sys
work, load_before, load_after, cores = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tokens = 4 * 128

def timed(ranks):
    entries = [json.loads(line) for line in open(f"{work}/n{ranks}/log.jsonl")]
    steps = [e for e in entries if e["step"] >= 2 and e["tokens_per_s"]]   # step 1 warms up
    seconds = statistics.mean(tokens / e["tokens_per_s"] for e in steps)
    allreduce = statistics.mean(e.get("allreduce_ms", 0.0) for e in steps) / 1000
    return seconds, allreduce, len(steps)

# Gradient floats sent per step: rank r x (in + out) for each adapted module (LoFT's two factors).
r, d, layers = 8, 768, 12
floats = layers * r * ((d + 3 * d) + (d + d) + (4 * d + d))
size = floats * 4 + 4
s1, _, n = timed(1)
s2, a2, _ = timed(2)
c2 = s2 - a2
print(f"LoFT rank 8 on a random GPT-2 124M shape (c_attn, c_proj of 12 layers), global batch 4 x 128")
print(f"tokens, float32, {n} timed steps after one warm-up. One all-reduce per step of {size / 1e6:.2f} MB")
print(f"(the adapters' gradients, r x (m + n) floats per module, and the loss). {cores} cores; load average")
print(f"{load_before} before, {load_after} after (other jobs share the machine: compare rows of one run).")
print(f"The all-reduce time includes waiting for the slower rank.")
print()
print("| run | tokens/s | s/step | all-reduce ms/step | compute s/step |")
print("|---|---:|---:|---:|---:|")
print(f"| 1 process, {cores} threads | {tokens / s1:.1f} | {s1:.2f} | - | {s1:.2f} |")
print(f"| mpirun -np 2, 1 thread each | {tokens / s2:.1f} | {s2:.2f} | {a2 * 1000:.1f} | {c2:.2f} |")
print()
print("**Projection, not a measurement**: N ranks, each with one core and the 2-rank run's")
print("2 rows per step (the global batch grows with N), compute per step as measured above; a ring")
print("all-reduce moves 2(N-1)/N of the buffer per rank, so its time is the measured one scaled by")
print("2(N-1)/N (same shared-memory link), or, between machines, 2(N-1)/N x S at 1.25 GB/s (10 Gb/s")
print("Ethernet) plus 2(N-1) x 50 us latency.")
print()
print("| ranks | all-reduce ms (link as measured) | tokens/s | all-reduce ms (10 GbE) | tokens/s (10 GbE) |")
print("|---:|---:|---:|---:|---:|")
for ranks in (2, 8, 64):
    ring = 2 * (ranks - 1) / ranks
    local = a2 * ring
    ethernet = ring * size / 1.25e9 + 2 * (ranks - 1) * 50e-6
    rate = lambda t: ranks * 2 * 128 / (c2 + t)
    print(f"| {ranks} | {local * 1000:.1f} | {rate(local):.0f} | {ethernet * 1000:.1f} | {rate(ethernet):.0f} |")
PY
