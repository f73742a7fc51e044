"""Benchmark group "pytorch": `loft convert` of a PyTorch checkpoint to safetensors against
the Python route, torch.load(weights_only=True) + safetensors.torch.save_file, on the same
input in the same run.

The checkpoint: 64 float32 tensors of 2048 x 1024 (8 MiB each, 512 MiB), torch.randn with
seed 0, written by torch.save as a state dict (the zip container) and again with
_use_new_zipfile_serialization=False (the legacy format). Whole processes, page cache warm,
median of 3 runs. Results go to docs/benchmarks.md between the bench:pytorch markers.
PYTORCH_BENCH_TENSORS=N changes the tensor count (8 MiB each).
"""
import os
import pathlib
import subprocess
import sys

import benchlib
from benchlib import OUT, log, measure, remove, warm

TENSORS = int(os.environ.get("PYTORCH_BENCH_TENSORS", "64"))
ROWS, COLUMNS = 2048, 1024
PEER = ("import sys, torch\n"
        "from safetensors.torch import save_file\n"
        "state = torch.load(sys.argv[1], weights_only=True)\n"
        "save_file({k: v.contiguous() for k, v in state.items()}, sys.argv[2])\n")


def make_inputs():
    OUT.mkdir(exist_ok=True)
    zip_path, legacy_path = OUT / f"pytorch-{TENSORS}.bin", OUT / f"pytorch-{TENSORS}-legacy.bin"
    if not zip_path.exists() or not legacy_path.exists():
        log(f"bench pytorch: generating {zip_path} and {legacy_path}")
        subprocess.run([sys.executable, __file__, "--generate", str(zip_path), str(legacy_path)], check=True)
    return zip_path, legacy_path


def generate(zip_path, legacy_path):
    import torch
    torch.manual_seed(0)
    state = {f"model.layers.{i:03d}.weight": torch.randn(ROWS, COLUMNS) for i in range(TENSORS)}
    torch.save(state, zip_path)
    torch.save(state, legacy_path, _use_new_zipfile_serialization=False)


def main(loft):
    loft = str(pathlib.Path(loft).resolve())
    zip_path, legacy_path = make_inputs()
    python = sys.executable
    rows = []
    for title, source in [("torch.save zip -> safetensors", zip_path), ("legacy (pre-1.6) -> safetensors", legacy_path)]:
        output = OUT / "pytorch-out.safetensors"
        results = []
        for argv in ([loft, "convert", source, output], [python, "-c", PEER, source, output]):
            def before():
                remove(output)
                warm(source)
            log(f"bench pytorch: {title}: {argv[0]} {argv[1]}")
            results.append(measure(argv, repeats=3, before=before))
        # Same input, same answer: the two outputs must be identical.
        subprocess.run([loft, "convert", source, output], check=True, capture_output=True)
        ours = output.read_bytes()
        subprocess.run([python, "-c", PEER, source, output], check=True)
        same = ours == output.read_bytes()
        del ours
        remove(output)
        (loft_s, loft_cpu, loft_rss), (py_s, py_cpu, py_rss) = results
        rows.append((title, loft_s, py_s, loft_cpu, py_cpu, loft_rss, py_rss, same))
        log(f"  loft {loft_s:.3f} s {loft_rss / 2**20:.0f} MiB | python {py_s:.3f} s {py_rss / 2**20:.0f} MiB | identical: {same}")

    size = zip_path.stat().st_size
    lines = [
        f"Machine: {benchlib.machine(loft)}.",
        "",
        f"Input: {TENSORS} float32 tensors of {ROWS} x {COLUMNS} ({benchlib.human_bytes(size)}), torch.save of a state dict "
        "(zip, and the legacy format). Python route: `torch.load(weights_only=True)` then safetensors `save_file`. "
        "Whole processes, page cache warm, median of 3 runs; the outputs are compared byte for byte.",
        "",
        "| job | loft | Python | speed-up (Python / loft) | loft CPU | Python CPU | loft peak RSS | Python peak RSS | RSS ratio (Python / loft) | identical output |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for title, loft_s, py_s, loft_cpu, py_cpu, loft_rss, py_rss, same in rows:
        lines.append(f"| {title} | {loft_s:.3f} s | {py_s:.3f} s | **{py_s / loft_s:.1f}x** | {loft_cpu:.2f} s | {py_cpu:.2f} s | "
                     f"{benchlib.human_bytes(loft_rss)} | {benchlib.human_bytes(py_rss)} | **{py_rss / loft_rss:.1f}x** | {'yes' if same else 'NO'} |")
    lines += [
        "",
        "Targets (issue 11): at least 4x faster than the Python route and at most a quarter of its peak memory. "
        f"Run with {benchlib.load_note()}.",
    ]
    benchlib.write_section("pytorch", "PyTorch checkpoints: convert .bin to safetensors", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1] == "--generate":
        generate(*sys.argv[2:4])
    else:
        main(sys.argv[1])
