"""Benchmark group "gguf": `loft convert MODEL_DIR model.gguf --dtype f16|q8_0` of a float32
LLaMA-shaped checkpoint against the Python route, the `gguf` package's GGUFWriter fed by
safetensors + numpy (the same tensor names, q/k permutation, metadata and type rules; Q8_0
through gguf.quants.quantize, the reference loft's quantizer matches bit for bit), on the
same input in the same run.

The checkpoint: hidden 1024, 16 heads, intermediate 2816, vocabulary 16384, untied output,
float32, random normal * 0.02 (seed 0); 18 layers make 1.0 GiB. The same shape with 4 and 9
layers shows how peak memory grows with the model (loft and the peer). Whole processes, page
cache warm, median of GGUF_BENCH_REPEATS (3) runs at 1 GiB, one run at the smaller sizes.
The two outputs' tensors are compared byte for byte (gguf.GGUFReader). Results go to
docs/benchmarks.md between the bench:gguf markers.
"""
import json
import os
import pathlib
import subprocess
import sys

import benchlib
from benchlib import OUT, log, measure, remove, warm

HIDDEN, HEADS, INTERMEDIATE, VOCAB = 1024, 16, 2816, 16384
SIZES = [int(n) for n in os.environ.get("GGUF_BENCH_LAYERS", "4 9 18").split()]
REPEATS = int(os.environ.get("GGUF_BENCH_REPEATS", "3"))

# The Python route, as a user of the gguf package writes it: names mapped, q/k permuted as
# convert_hf_to_gguf.py does, 2-D weights converted (f16) or quantized (q8_0), everything
# else float32; GGUFWriter collects the tensors, then writes the file.
PEER = r'''
import json, sys
import numpy as np
import gguf
from safetensors import safe_open

source, output, dtype = sys.argv[1:4]
config = json.load(open(f"{source}/config.json"))
heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
per_layer = {"input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
             "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
             "self_attn.o_proj.weight": "attn_output.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
             "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}

def gguf_name(name):
    if name in names:
        return names[name], -1
    parts = name.split(".")
    layer = int(parts[2])
    return f"blk.{layer}." + per_layer[".".join(parts[3:])], layer

def permute(weights, n_head):
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))

writer = gguf.GGUFWriter(output, "llama")
writer.add_name(source.rstrip("/").split("/")[-1])
writer.add_type("model")
writer.add_file_type(1 if dtype == "f16" else 7)
writer.add_quantization_version(2)
writer.add_context_length(config["max_position_embeddings"])
writer.add_embedding_length(config["hidden_size"])
writer.add_block_count(config["num_hidden_layers"])
writer.add_feed_forward_length(config["intermediate_size"])
writer.add_rope_dimension_count(config["hidden_size"] // heads)
writer.add_head_count(heads)
writer.add_head_count_kv(kv_heads)
writer.add_rope_freq_base(config.get("rope_theta", 10000.0))
writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1e-6))
writer.add_vocab_size(config["vocab_size"])
writer.add_tokenizer_model("none")
with safe_open(f"{source}/model.safetensors", "np") as f:
    order = sorted((gguf_name(n)[1], gguf_name(n)[0], n) for n in f.keys())
    for _, name, hf_name in order:
        data = f.get_tensor(hf_name)
        if hf_name.endswith("q_proj.weight"):
            data = permute(data, heads)
        elif hf_name.endswith("k_proj.weight"):
            data = permute(data, kv_heads)
        if data.ndim >= 2 and not name.endswith("_norm.weight"):
            if dtype == "f16":
                writer.add_tensor(name, data.astype(np.float16))
            else:
                writer.add_tensor(name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                                  raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, data.astype(np.float32))
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
'''

# Compares the tensors of two GGUF files (names, types, shapes, bytes): exit 0 when equal.
COMPARE = r'''
import sys
import numpy as np
from gguf import GGUFReader
a, b = GGUFReader(sys.argv[1]), GGUFReader(sys.argv[2])
ta = {t.name: t for t in a.tensors}
tb = {t.name: t for t in b.tensors}
assert ta.keys() == tb.keys(), sorted(set(ta) ^ set(tb))
for name, t in ta.items():
    u = tb[name]
    assert t.tensor_type == u.tensor_type and list(t.shape) == list(u.shape), name
    assert np.array_equal(np.asarray(t.data).view(np.uint8), np.asarray(u.data).view(np.uint8)), name
'''


def model_dir(layers):
    folder = OUT / f"gguf-llama-{layers}L"
    if not (folder / "model.safetensors").exists():
        log(f"bench gguf: generating {folder}")
        subprocess.run([sys.executable, __file__, "--generate", str(folder), str(layers)], check=True)
    return folder


def generate(folder, layers):
    import numpy as np
    from safetensors.numpy import save_file
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    tensors = {"model.embed_tokens.weight": normal(VOCAB, HIDDEN), "model.norm.weight": np.ones(HIDDEN, np.float32),
               "lm_head.weight": normal(VOCAB, HIDDEN)}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        tensors[p + "post_attention_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        for name in ["q_proj", "k_proj", "v_proj", "o_proj"]:
            tensors[p + f"self_attn.{name}.weight"] = normal(HIDDEN, HIDDEN)
        tensors[p + "mlp.gate_proj.weight"] = normal(INTERMEDIATE, HIDDEN)
        tensors[p + "mlp.up_proj.weight"] = normal(INTERMEDIATE, HIDDEN)
        tensors[p + "mlp.down_proj.weight"] = normal(HIDDEN, INTERMEDIATE)
    save_file(tensors, str(folder / "model.safetensors"))
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
              "num_attention_heads": HEADS, "num_key_value_heads": HEADS, "num_hidden_layers": layers, "vocab_size": VOCAB,
              "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
              "hidden_act": "silu", "torch_dtype": "float32"}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def main(loft):
    loft = str(pathlib.Path(loft).resolve())
    python = sys.executable
    rows = []
    input_copies = {}
    for layers in SIZES:
        source = model_dir(layers)
        size = (source / "model.safetensors").stat().st_size
        repeats = REPEATS if layers == max(SIZES) else 1
        copy = OUT / "gguf-copy.bin"
        if layers == max(SIZES):
            # The machine's limit for moving the input: a plain copy of the 1 GiB file.
            def before_input_copy():
                remove(copy)
                warm(source)
            log(f"bench gguf: {layers} layers: cp of the input")
            input_copies[size] = measure(["cp", source / "model.safetensors", copy], repeats=repeats, before=before_input_copy)
            remove(copy)
        for dtype in ["f16", "q8_0"]:
            output = OUT / "gguf-out.gguf"
            results = []
            for argv in ([loft, "convert", source, output, "--dtype", dtype], [python, "-c", PEER, source, output, dtype]):
                def before():
                    remove(output)
                    warm(source)
                log(f"bench gguf: {layers} layers, {dtype}: {pathlib.Path(argv[0]).name}")
                results.append(measure(argv, repeats=repeats, before=before))
            # The machine's limit for the job's output: cp of a file of the output's size
            # (read from the page cache, written like the output), same run.
            subprocess.run([loft, "convert", source, output, "--dtype", dtype, "--overwrite"], check=True, capture_output=True)
            output_size = output.stat().st_size
            def before_copy():
                remove(copy)
                warm(output)
            log(f"bench gguf: {layers} layers, {dtype}: cp of the output")
            results.append(measure(["cp", output, copy], repeats=repeats, before=before_copy))
            remove(copy)
            same = None
            if layers == max(SIZES):
                # Same input, same answer: the tensors of the two files must be identical.
                peer_output = OUT / "gguf-peer.gguf"
                subprocess.run([python, "-c", PEER, source, peer_output, dtype], check=True, capture_output=True)
                same = subprocess.run([python, "-c", COMPARE, output, peer_output], capture_output=True).returncode == 0
                remove(peer_output)
            remove(output)
            (loft_s, loft_cpu, loft_rss), (py_s, py_cpu, py_rss), (cp_s, cp_cpu, _) = results
            rows.append((size, dtype, output_size, loft_s, py_s, cp_s, loft_cpu, py_cpu, cp_cpu, loft_rss, py_rss, same))
            log(f"  loft {loft_s:.3f} s {loft_cpu:.2f} CPU {loft_rss / 2**20:.0f} MiB | python {py_s:.3f} s {py_cpu:.2f} CPU "
                f"{py_rss / 2**20:.0f} MiB | cp {cp_s:.3f} s {cp_cpu:.2f} CPU | identical: {same}")

    lines = [
        f"Machine: {benchlib.machine(loft)}, gguf {gguf_version()}.",
        "",
        f"Input: a float32 LLaMA-shaped checkpoint (hidden {HIDDEN}, intermediate {INTERMEDIATE}, vocabulary {VOCAB}, "
        "untied output) in one safetensors file; the layer count sets its size. Job: `loft convert DIR model.gguf --dtype f16` "
        "(and `q8_0`). Python route: the `gguf` package's `GGUFWriter` fed by safetensors (`safe_open`, numpy) with the same "
        "names, q/k permutation, metadata and type rules, `astype(float16)` or `gguf.quants.quantize(.., Q8_0)`, then "
        "`write_tensors_to_file`. The machine's limit, same run: `cp` of a file the size of the output (warm in the page "
        "cache) to a new file, the cost of writing the output's bytes and nothing else. Whole processes, page cache warm; median of "
        f"{REPEATS} runs for the largest input, one run for the others. At the largest size the tensors of both outputs are "
        "compared byte for byte.",
        "",
        "| input | --dtype | output | loft | Python | cp of the output | speed-up (Python / loft) | ceiling (Python / cp) | loft CPU | Python CPU | cp CPU | CPU ratio (Python / loft) | loft peak RSS | Python peak RSS | RSS ratio (Python / loft) | identical tensors |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for size, dtype, output_size, loft_s, py_s, cp_s, loft_cpu, py_cpu, cp_cpu, loft_rss, py_rss, same in rows:
        lines.append(f"| {benchlib.human_bytes(size)} | {dtype} | {benchlib.human_bytes(output_size)} | {loft_s:.3f} s | {py_s:.3f} s | "
                     f"{cp_s:.3f} s | **{py_s / loft_s:.1f}x** | {py_s / cp_s:.1f}x | {loft_cpu:.2f} s | {py_cpu:.2f} s | {cp_cpu:.2f} s | "
                     f"{py_cpu / max(loft_cpu, 0.01):.1f}x | {benchlib.human_bytes(loft_rss)} | {benchlib.human_bytes(py_rss)} | "
                     f"**{py_rss / loft_rss:.1f}x** | {'-' if same is None else 'yes' if same else 'NO'} |")
    for size, (cp_s, cp_cpu, _) in input_copies.items():
        lines += ["", f"`cp` of the whole {benchlib.human_bytes(size)} input, same run: {cp_s:.3f} s wall, {cp_cpu:.2f} s CPU."]
    lines += [
        "",
        "Targets (issue 12): at the 1 GiB input at least 4x faster than the Python route and at most a quarter of its peak "
        "memory; loft's peak memory flat as the model grows (it holds two encoded slices at a time, the Python "
        f"writer every output tensor until it writes). Run with {benchlib.load_note()}; on a shared machine the wall "
        "times swing with the other jobs' load (the same job twice can differ by 3x), CPU time is the steadier comparison.",
        "",
        NOTES,
    ]
    benchlib.write_section("gguf", "GGUF export: a float32 checkpoint to F16 and Q8_0", "\n".join(lines))
    print("\n".join(lines))


# What the numbers mean; kept by hand beside the measurements (perf, release build).
NOTES = """Where the time goes (perf, loft release build, 1 GiB input, warm cache): the encoders are vectorised \
(f16 and bf16 branch-free, Q8_0 without a rounding call per element) and run on both cores while a second thread \
writes the previous slice: encoding is 23% of loft's CPU for f16 and 39% (the Q8_0 quantizer) for q8_0. The kernel's \
copy of the output into the page cache (`write`) is 17% for f16 and 2% for q8_0, now that slices are 256K elements \
(their encoded bytes are still in the cache when `write` copies them; with 4M-element slices the copy was half of \
loft's CPU). Most of the rest is the kernel mapping and dropping the input's pages (page faults, unmapping). Storing \
the encoded bytes straight into a mapping of the output file (fallocate, then mmap) was measured and dropped: on \
ext4 each first touch of a mapped page is a zero-fill plus the file system's per-page bookkeeping, 2-3x the kernel \
time of `write`. The "ceiling" column is how much faster than the Python route a program could be that did nothing \
but write the output's bytes (`cp` of the output, which the kernel copies page to page): far above 4x, so the copy \
is not what limits this job; the Python route's time is its own reading, casting and quantizing."""


def gguf_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    if sys.argv[1] == "--generate":
        generate(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1])
