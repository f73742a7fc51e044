"""Benchmark group "mlx": `loft convert MODEL_DIR OUT --dtype mlx-q4 --group-size 64` (and
mlx-q8) of a float32 LLaMA-shaped checkpoint against mlx-lm's own quantizer on the same input
in the same run: `mlx_lm.utils.quantize_model` (mx.quantize on every Linear and Embedding)
then `save_model` and `save_config`, as `mlx_lm.convert` does once the model is loaded. And
the way back: the mlx-q4 directory read and dequantized to a float32 safetensors file, by loft
(`loft convert MLX_DIR out.safetensors`) and by mlx (`mx.load`, `mx.dequantize`,
`mx.save_safetensors`).

The input is the gguf group's 1 GiB checkpoint (bench_gguf.model_dir: hidden 1024,
intermediate 2816, vocabulary 16384, 18 layers, float32). Whole processes, page cache warm,
median of MLX_BENCH_REPEATS (3) runs. Every output tensor of loft is compared with mlx's byte
for byte. Results go to docs/benchmarks.md between the bench:mlx markers.
"""
import os
import pathlib
import subprocess
import sys

import benchlib
from bench_gguf import model_dir
from benchlib import OUT, log, measure, remove, warm

LAYERS = int(os.environ.get("MLX_BENCH_LAYERS", "18"))
REPEATS = int(os.environ.get("MLX_BENCH_REPEATS", "3"))
GROUP = 64

# mlx-lm's quantizer on the loaded model (what mlx_lm.convert runs after loading).
QUANTIZE = r'''
import json, pathlib, sys
import mlx.core as mx
from mlx_lm.models import llama
from mlx_lm.utils import quantize_model, save_config, save_model
source, output, bits, group = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
config = json.loads(pathlib.Path(source, "config.json").read_text())
model = llama.Model(llama.ModelArgs.from_dict(config))
weights = mx.load(str(pathlib.Path(source, "model.safetensors")))
model.load_weights(list(model.sanitize(weights).items()))
model, quantized_config = quantize_model(model, config, group, bits)
save_model(output, model)
save_config(quantized_config, output / "config.json")
'''

# mlx reading a quantized directory back to float32: every quantized weight dequantized.
DEQUANTIZE = r'''
import json, pathlib, sys
import mlx.core as mx
source, output = pathlib.Path(sys.argv[1]), sys.argv[2]
config = json.loads((source / "config.json").read_text())
quantization = config["quantization"]
weights = {}
for file in sorted(source.glob("model*.safetensors")):
    weights.update(mx.load(str(file)))
dense = {}
for name, value in weights.items():
    module = name.rsplit(".", 1)[0]
    if name.endswith(".scales") or (name.endswith(".biases") and module + ".scales" in weights):
        continue
    if name.endswith(".weight") and module + ".scales" in weights:
        entry = quantization.get(module, quantization)
        value = mx.dequantize(value, weights[module + ".scales"], weights[module + ".biases"],
                              group_size=entry["group_size"], bits=entry["bits"])
    dense[name] = value
mx.save_safetensors(output, dense)
'''

# Exit 0 when two safetensors files (or the model*.safetensors of two directories) hold the
# same tensors, byte for byte.
COMPARE = r'''
import pathlib, sys
import numpy as np
from safetensors.numpy import load_file
def tensors(path):
    path = pathlib.Path(path)
    out = {}
    for file in sorted(path.glob("model*.safetensors")) if path.is_dir() else [path]:
        out.update(load_file(str(file)))
    return out
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:5]
for name in a:
    assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
    assert a[name].tobytes() == b[name].tobytes(), name
'''


def main(loft):
    loft = str(pathlib.Path(loft).resolve())
    python = sys.executable
    source = model_dir(LAYERS)
    size = (source / "model.safetensors").stat().st_size
    rows = []
    for bits in [4, 8]:
        output, peer_output = OUT / f"mlx-q{bits}", OUT / f"mlx-q{bits}-peer"
        results = []
        for argv, target in (([loft, "convert", source, output, "--dtype", f"mlx-q{bits}", "--group-size", GROUP], output),
                             ([python, "-c", QUANTIZE, source, peer_output, bits, GROUP], peer_output)):
            def before(target=target):
                remove(target)
                warm(source)
            log(f"bench mlx: q{bits} g{GROUP}: {pathlib.Path(argv[0]).name}")
            results.append(measure(argv, repeats=REPEATS, before=before))
        same = subprocess.run([python, "-c", COMPARE, output, peer_output], capture_output=True).returncode == 0
        rows.append((f"f32 -> mlx-q{bits}, group {GROUP}", *results, same))
        log(f"  {rows[-1]}")
        remove(peer_output)
        if bits == 4:
            # The way back, from the same quantized directory.
            dense, peer_dense = OUT / "mlx-dense.safetensors", OUT / "mlx-dense-peer.safetensors"
            results = []
            for argv, target in (([loft, "convert", output, dense], dense), ([python, "-c", DEQUANTIZE, output, peer_dense], peer_dense)):
                def before(target=target):
                    remove(target)
                    warm(output)
                log(f"bench mlx: q{bits} -> f32: {pathlib.Path(argv[0]).name}")
                results.append(measure(argv, repeats=REPEATS, before=before))
            same_dense = subprocess.run([python, "-c", COMPARE, dense, peer_dense], capture_output=True).returncode == 0
            rows.append((f"mlx-q{bits} -> f32 safetensors", *results, same_dense))
            log(f"  {rows[-1]}")
            remove(dense, peer_dense)
        remove(output)

    lines = [
        f"Machine: {benchlib.machine(loft)}, mlx {version('mlx')}, mlx-lm {version('mlx-lm')}.",
        "",
        f"Input: the {benchlib.human_bytes(size)} float32 LLaMA-shaped checkpoint of the GGUF group ({LAYERS} layers, one "
        "safetensors file). Quantizing: `loft convert DIR OUT --dtype mlx-qN --group-size 64` against mlx-lm's "
        "`quantize_model` (mx.quantize on every Linear and Embedding) then `save_model` and `save_config` on the loaded "
        "model, as `mlx_lm.convert` does after loading. Dequantizing: `loft convert MLX_DIR out.safetensors` against "
        "`mx.load`, `mx.dequantize` of every quantized weight, `mx.save_safetensors`. Whole processes, page cache warm, "
        f"median of {REPEATS} runs; every output tensor compared byte for byte.",
        "",
        "| job | loft | mlx | speed-up (mlx / loft) | loft CPU | mlx CPU | CPU ratio (mlx / loft) | loft peak RSS | mlx peak RSS | RSS ratio (mlx / loft) | identical tensors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for job, (loft_s, loft_cpu, loft_rss), (mlx_s, mlx_cpu, mlx_rss), same in rows:
        lines.append(f"| {job} | {loft_s:.3f} s | {mlx_s:.3f} s | **{mlx_s / loft_s:.1f}x** | {loft_cpu:.2f} s | {mlx_cpu:.2f} s | "
                     f"{mlx_cpu / max(loft_cpu, 0.01):.1f}x | {benchlib.human_bytes(loft_rss)} | {benchlib.human_bytes(mlx_rss)} | "
                     f"**{mlx_rss / loft_rss:.1f}x** | {'yes' if same else 'NO'} |")
    lines += ["", f"Run with {benchlib.load_note()}; on a shared machine wall times swing with the other jobs' load, "
              "CPU time is the steadier comparison. mlx runs on its CPU backend here (no GPU)."]
    benchlib.write_section("mlx", "MLX affine quantization: a float32 checkpoint to mlx-q4 and mlx-q8", "\n".join(lines))
    print("\n".join(lines))


def version(package):
    try:
        from importlib.metadata import version as metadata_version
        return metadata_version(package)
    except Exception:
        return "unknown"


if __name__ == "__main__":
    try:
        import mlx.core  # noqa: F401
        import mlx_lm  # noqa: F401
    except ImportError:
        sys.exit("bench mlx: needs mlx and mlx-lm (pip install mlx mlx-lm)")
    main(sys.argv[1])
