"""Benchmark group "families": a LoRA fine-tuning step of a Qwen2.5-0.5B-shaped and a
Gemma-3-270M-shaped model (random weights, float32) in loft against PyTorch + PEFT, same run.

Shapes (the released config.json values, written as the configs in bench-out/):
  - Qwen2.5-0.5B: 24 layers, hidden 896, 14 heads over 2 key/value heads, q/k/v biases, MLP
    4864, vocabulary 151936, tied head, rope_theta 1e6.
  - Gemma-3-270M: 18 layers, hidden 640, 4 heads over 1 key/value head of 256, MLP 2048,
    vocabulary 262144, tied head, sliding window 512 on 5 of every 6 layers (local rope 1e4,
    global 1e6), query_pre_attn_scalar 256.
Each step: batch FAMILIES_BATCH (2) x FAMILIES_SEQ (256) random tokens, LoRA rank 16 (alpha 16)
on all seven projections, forward + backward + AdamW on the factors (loft: LoRA-AdamW and its
default LoFT-AdamW), 2 threads each, one warm-up step then FAMILIES_STEPS (2) timed ones.
loft: `loft experiment llama-step --config`; PyTorch: scripts/bench/llama_torch.py --config
(sdpa attention). Peak RSS: the process's VmHWM. Results go to docs/benchmarks.md between
the bench:families markers.
"""
import json
import os
import pathlib
import subprocess
import sys

import benchlib
from benchlib import OUT, ROOT, log

BATCH = int(os.environ.get("FAMILIES_BATCH", "2"))
SEQ = int(os.environ.get("FAMILIES_SEQ", "256"))
STEPS = int(os.environ.get("FAMILIES_STEPS", "2"))
# Processes per row, rounds interleaved, the fastest kept (as scripts/bench-llama.sh): the
# host's speed drifts by up to 30% over minutes, for loft and PyTorch alike.
REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))

QWEN = {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": 151936, "hidden_size": 896,
        "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
        "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 21, "hidden_act": "silu"}
GEMMA = {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "vocab_size": 262144, "hidden_size": 640,
         "intermediate_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1,
         "head_dim": 256, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
         "rope_local_base_freq": 10000.0, "rope_scaling": None, "sliding_window": 512,
         "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(18)],
         "query_pre_attn_scalar": 256, "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": True,
         "pad_token_id": 0, "final_logit_softcapping": None, "attn_logit_softcapping": None}


def run_json(argv):
    out = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2"))
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {out.returncode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(label, r):
    return (f"| {label} | {r['tokens_per_second']:.1f} | {r['seconds_per_step']:.2f} | {r['cpu_seconds_per_step']:.2f} | "
            f"{r['forward_backward_seconds']:.2f} | {r['optimizer_seconds']:.2f} | {r['peak_rss_mib']:.0f} |")


def main():
    loft = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / ".build/release/loft")
    OUT.mkdir(exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[0]
    sections = []
    for name, config in [("Qwen2.5-0.5B", QWEN), ("Gemma-3-270M", GEMMA)]:
        path = OUT / f"families-{config['model_type']}.json"
        path.write_text(json.dumps(config, indent=1))
        common = ["--batch", BATCH, "--seq", SEQ, "--steps", STEPS, "--rank", 16]
        commands = {
            "lora": [loft, "experiment", "llama-step", "--config", path, "--optimizer", "lora", "--json"] + common,
            "torch": [sys.executable, ROOT / "scripts/bench/llama_torch.py", "--config", path, "--threads", 2] + common,
            "loft": [loft, "experiment", "llama-step", "--config", path, "--optimizer", "loft", "--json"] + common,
        }
        best = {}
        for _ in range(REPEATS):
            for key, argv in commands.items():
                run = run_json(argv)
                if key not in best or run["tokens_per_second"] > best[key]["tokens_per_second"]:
                    best[key] = run
        lora, torch, loft_default = best["lora"], best["torch"], best["loft"]
        rows = [row("loft, LoRA-AdamW", lora),
                row(f"PyTorch {torch['torch']} + PEFT LoRA, AdamW ({torch['attention']})", torch),
                row("loft, LoFT-AdamW", loft_default)]
        for line in rows:
            log(line)
        speed = lora["tokens_per_second"] / torch["tokens_per_second"]
        memory = torch["peak_rss_mib"] / lora["peak_rss_mib"]
        sections.append("\n".join([
            f"### {name} shape", "",
            "| run | tokens/s | s/step | CPU s/step | forward + backward | optimizer | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|", *rows, "",
            f"loft LoRA-AdamW against PyTorch + PEFT: **{speed:.2f}x** the tokens/s, **{memory:.2f}x** less peak memory.",
        ]))
    load_after = open("/proc/loadavg").read().split()[0]
    body = "\n\n".join([
        f"`scripts/bench/bench_families.py`: random weights, float32, batch {BATCH} x {SEQ} tokens, LoRA rank 16 on "
        f"q/k/v/o/gate/up/down, 2 threads each, {STEPS} timed steps after one warm-up, each row the fastest of {REPEATS} processes (rounds interleaved), same run. Seconds are wall time "
        f"per step; CPU s/step is the process's CPU time (both threads), steadier on a shared machine. Load average "
        f"{load_before} before, {load_after} after (other jobs share the 2 cores: compare rows of one run).",
        *sections,
        f"Machine: {benchlib.machine(loft)}.",
    ])
    benchlib.write_section("families", "Qwen2.5 and Gemma 3 fine-tuning steps against PyTorch + PEFT", body)


if __name__ == "__main__":
    main()
