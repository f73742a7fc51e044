#!/usr/bin/env python3
"""`loft merge` against PEFT's merge_and_unload + save_pretrained, same machine, same run.

Cases (inputs are made once under bench-out/merge/, random weights, fixed seeds):
  gpt2-124m f32 / bf16   GPT-2-124M shapes, a rank-16 PEFT adapter on c_attn, attn.c_proj,
                         c_fc and mlp.c_proj of all 12 blocks (fan_in_fan_out)
  synthetic 4 GB         a 4.3 GB checkpoint in 4 shards (16 layers of four 4096x4096 f32
                         projections), rank-16 adapter on q and v: loft only, to show its
                         memory does not grow with the model
Each tool runs as its own process; wall time and peak RSS (ru_maxrss from wait4) are of the
whole process, imports included. The page cache is warmed by reading the inputs first.
Prints a markdown table on stdout; progress on stderr.
Usage: merge_bench.py LOFT_BINARY [--repeat N] [--skip-peft] [--skip-large]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

OUT = pathlib.Path("bench-out/merge")
HERE = pathlib.Path(__file__).resolve().parent


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def run(cmd):
    """Runs cmd; returns (seconds, peak RSS in MB). Through /usr/bin/time: Linux carries a
    process's maxrss across exec, so wait4 on a child of this (large) Python process would
    report this process's own peak."""
    stats = OUT / "time.txt"
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(stats), *map(str, cmd)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{result.stderr}")
    seconds, kilobytes = stats.read_text().split()[-2:]
    return float(seconds), int(kilobytes) / 1024


def warm(path):
    for p in sorted(pathlib.Path(path).rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass


def gpt2_base(directory, dtype):
    from safetensors.numpy import save_file
    import ml_dtypes
    if (directory / "model.safetensors").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    d, vocab, positions, layers = 768, 50257, 1024, 12
    shapes = {"wte.weight": (vocab, d), "wpe.weight": (positions, d), "ln_f.weight": (d,), "ln_f.bias": (d,)}
    for i in range(layers):
        p = f"h.{i}."
        shapes.update({p + "ln_1.weight": (d,), p + "ln_1.bias": (d,), p + "ln_2.weight": (d,), p + "ln_2.bias": (d,),
                       p + "attn.c_attn.weight": (d, 3 * d), p + "attn.c_attn.bias": (3 * d,),
                       p + "attn.c_proj.weight": (d, d), p + "attn.c_proj.bias": (d,),
                       p + "mlp.c_fc.weight": (d, 4 * d), p + "mlp.c_fc.bias": (4 * d,),
                       p + "mlp.c_proj.weight": (4 * d, d), p + "mlp.c_proj.bias": (d,)})
    target = ml_dtypes.bfloat16 if dtype == "bf16" else np.float32
    # save_pretrained's naming (`transformer.` prefix), so loft diff can line the outputs up.
    tensors = {"transformer." + k: (rng.standard_normal(s, dtype=np.float32) * 0.02).astype(target) for k, s in shapes.items()}
    save_file(tensors, directory / "model.safetensors", {"format": "pt"})
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": d, "n_head": 12, "n_layer": layers,
              "n_positions": positions, "vocab_size": vocab, "torch_dtype": "bfloat16" if dtype == "bf16" else "float32",
              "tie_word_embeddings": True}
    (directory / "config.json").write_text(json.dumps(config, indent=2))


def peft_adapter(directory, modules, rank, base_dir):
    """A PEFT LoRA adapter: modules maps module path -> (in, out)."""
    from safetensors.numpy import save_file
    if (directory / "adapter_model.safetensors").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    tensors = {}
    for module, (fan_in, fan_out) in modules.items():
        key = "base_model.model." + module
        tensors[key + ".lora_A.weight"] = rng.standard_normal((rank, fan_in), dtype=np.float32) / np.sqrt(fan_in)
        tensors[key + ".lora_B.weight"] = rng.standard_normal((fan_out, rank), dtype=np.float32) * 0.01
    save_file(tensors, directory / "adapter_model.safetensors", {"format": "pt"})
    targets = sorted({m.rsplit(".", 1)[1] for m in modules})
    conv1d = any(m.endswith("c_attn") for m in modules)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 2 * rank, "lora_dropout": 0.0,
              "target_modules": targets, "fan_in_fan_out": conv1d, "bias": "none", "use_rslora": False,
              "use_dora": False, "init_lora_weights": True, "inference_mode": True,
              "base_model_name_or_path": str(base_dir.resolve())}
    (directory / "adapter_config.json").write_text(json.dumps(config, indent=2))


def large_base(directory):
    from safetensors.numpy import save_file
    if (directory / "model.safetensors.index.json").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    hidden, layers, per_shard = 4096, 16, 4
    weight_map, total = {}, 0
    shards = layers // per_shard
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {}
        for layer in range(s * per_shard, (s + 1) * per_shard):
            for proj in ["q_proj", "k_proj", "v_proj", "o_proj"]:
                name = f"model.layers.{layer}.self_attn.{proj}.weight"
                tensors[name] = (rng.random((hidden, hidden), dtype=np.float32) - 0.5) * 0.04
                weight_map[name] = file
                total += tensors[name].nbytes
        save_file(tensors, directory / file, {"format": "pt"})
        del tensors
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    (directory / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": hidden}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("loft")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peft", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    loft = str(pathlib.Path(args.loft).resolve())
    have_peft = not args.skip_peft
    if have_peft:
        try:
            import peft, torch, transformers  # noqa: F401
        except ImportError:
            log("peft/torch/transformers missing: loft rows only")
            have_peft = False

    rows = []
    for dtype in ["f32", "bf16"]:
        base = OUT / f"gpt2-124m-{dtype}"
        adapter = OUT / "gpt2-124m-r16"
        log(f"preparing {base}")
        gpt2_base(base, dtype)
        modules = {}
        for i in range(12):
            modules[f"transformer.h.{i}.attn.c_attn"] = (768, 2304)
            modules[f"transformer.h.{i}.attn.c_proj"] = (768, 768)
            modules[f"transformer.h.{i}.mlp.c_fc"] = (768, 3072)
            modules[f"transformer.h.{i}.mlp.c_proj"] = (3072, 768)
        peft_adapter(adapter, modules, 16, OUT / "gpt2-124m-f32")
        warm(base)
        warm(adapter)
        base_bytes = (base / "model.safetensors").stat().st_size
        largest = 50257 * 768 * (4 if dtype == "f32" else 2)
        adapter_bytes = (adapter / "adapter_model.safetensors").stat().st_size
        budget = (largest + adapter_bytes) / 2**20 + 64
        tools = [("loft", [loft, "merge", "--base", str(base), "--adapter", str(adapter), "--out", str(OUT / f"loft-{dtype}")])]
        if have_peft:
            tools.append(("peft", [sys.executable, str(HERE / "merge_peft.py"), str(base), str(adapter), str(OUT / f"peft-{dtype}"), dtype]))
        results = {}
        for name, cmd in tools:
            samples = []
            for r in range(args.repeat):
                log(f"  {name} {dtype} run {r + 1}/{args.repeat}")
                samples.append(run(cmd))
            results[name] = (statistics.median(s[0] for s in samples), max(s[1] for s in samples))
        check = ""
        if have_peft:
            # f32: agreement to float32 rounding. bf16: how many merged elements PEFT's
            # double rounding (delta to bf16, then the sum) moves off the correctly rounded sum.
            diff = subprocess.run([loft, "diff", str(OUT / f"loft-{dtype}/model.safetensors"), str(OUT / f"peft-{dtype}/model.safetensors"),
                                   "--atol", "0", "--rtol", "0", "--json"], capture_output=True, text=True)
            report = json.loads(diff.stdout)
            merged = [t for t in report["tensors"] if t["name"].endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))]
            worst = max([t["max_abs"] for t in report["tensors"] if isinstance(t["max_abs"], float)] or [float("nan")])
            moved = sum(t["not_close"] or 0 for t in report["tensors"])
            elements = sum(int(np.prod(t["shape_a"])) for t in merged)
            check = f"max abs vs peft {worst:.2g}; {moved} of {elements} merged elements differ ({100 * moved / elements:.2f}%)"
        for name, (seconds, rss) in results.items():
            speed = f"{results['peft'][0] / seconds:.1f}x" if have_peft and name == "loft" else ""
            target = f"<= {budget:.0f} MB" if name == "loft" else ""
            rows.append((f"GPT-2 124M {dtype} ({base_bytes / 1e6:.0f} MB), rank-16 on 48 modules", name, seconds, rss, speed, target,
                         check if name == "loft" else ""))

    if not args.skip_large:
        base = OUT / "synthetic-4gb"
        log(f"preparing {base} (4.3 GB)")
        large_base(base)
        adapter = OUT / "synthetic-4gb-r16"
        peft_adapter(adapter, {f"model.layers.{l}.self_attn.{p}": (4096, 4096) for l in range(16) for p in ["q_proj", "v_proj"]}, 16, base)
        warm(adapter)
        total = sum(p.stat().st_size for p in base.glob("*.safetensors"))
        budget = (4096 * 4096 * 4 + (adapter / "adapter_model.safetensors").stat().st_size) / 2**20 + 64
        log("  loft synthetic 4 GB")
        seconds, rss = run([loft, "merge", "--base", str(base), "--adapter", str(adapter), "--out", str(OUT / "loft-synthetic")])
        rows.append((f"synthetic {total / 1e9:.1f} GB, 4 shards, rank-16 on 32 of 64 tensors", "loft", seconds, rss, "", f"<= {budget:.0f} MB", ""))

    print("| case | tool | wall time (s) | peak RSS (MB) | loft speedup | RSS target | check |")
    print("|---|---|---:|---:|---:|---|---|")
    for case, tool, seconds, rss, speed, target, check in rows:
        print(f"| {case} | {tool} | {seconds:.2f} | {rss:.0f} | {speed} | {target} | {check} |")


if __name__ == "__main__":
    main()
