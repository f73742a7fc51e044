"""Benchmark group "io": loft against safetensors + numpy on a 1 GiB f32 checkpoint.

The checkpoint: 128 tensors of 2048 x 1024 float32 (8 MiB each), numpy's default_rng(0),
written by safetensors.numpy.save_file; its .npz twin by np.savez. Jobs, each run by both
tools as whole processes, 3 times, median wall time and median peak RSS (page cache warmed
first): header-only inspect; inspect --stats; f32 -> f16 safetensors; safetensors -> npz (stored);
npz -> safetensors. Results go to docs/benchmarks.md between the bench:io markers.
"""
import pathlib
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

import benchlib
from benchlib import OUT, log, measure, remove, warm

TENSORS, ROWS, COLUMNS = 128, 2048, 1024
PEER = pathlib.Path(__file__).resolve().parent / "io_peer.py"


def make_inputs():
    OUT.mkdir(exist_ok=True)
    checkpoint, archive = OUT / "io-1gib.safetensors", OUT / "io-1gib.npz"
    expected = TENSORS * ROWS * COLUMNS * 4
    if not checkpoint.exists() or checkpoint.stat().st_size < expected or not archive.exists():
        log(f"bench io: generating {checkpoint} and {archive} (1 GiB each)")
        subprocess.run([sys.executable, __file__, "--generate", str(checkpoint), str(archive)], check=True)
    return checkpoint, archive


def generate(checkpoint, archive):
    rng = np.random.default_rng(0)
    tensors = {f"model.layers.{i:03d}.weight": rng.standard_normal((ROWS, COLUMNS), dtype=np.float32) for i in range(TENSORS)}
    save_file(tensors, checkpoint, metadata={"format": "pt"})
    np.savez(archive, **tensors)


def main(loft):
    loft = str(pathlib.Path(loft).resolve())
    checkpoint, archive = make_inputs()
    python = sys.executable
    jobs = [
        ("inspect (header only)", checkpoint, None,
         [loft, "inspect", checkpoint], [python, PEER, "inspect", checkpoint]),
        ("inspect --stats", checkpoint, None,
         [loft, "inspect", "--stats", checkpoint], [python, PEER, "stats", checkpoint]),
        ("convert f32 -> f16 safetensors", checkpoint, OUT / "io-out-f16.safetensors",
         [loft, "convert", checkpoint, "{out}", "--dtype", "f16"], [python, PEER, "f16", checkpoint, "{out}"]),
        ("convert safetensors -> npz (stored)", checkpoint, OUT / "io-out.npz",
         [loft, "convert", checkpoint, "{out}"], [python, PEER, "to-npz", checkpoint, "{out}"]),
        ("convert npz -> safetensors", archive, OUT / "io-out.safetensors",
         [loft, "convert", archive, "{out}"], [python, PEER, "from-npz", archive, "{out}"]),
    ]
    rows = []
    for title, source, output, loft_argv, peer_argv in jobs:
        results = []
        for argv in (loft_argv, peer_argv):
            argv = [str(output) if a == "{out}" else a for a in argv]
            def before():
                if output:
                    remove(output)
                warm(source)
            log(f"bench io: {title}: {' '.join(map(str, argv))}")
            results.append(measure(argv, repeats=3, before=before))
            if output:
                remove(output)
        (loft_s, loft_cpu, loft_rss), (py_s, py_cpu, py_rss) = results
        rows.append((title, loft_s, py_s, loft_cpu, py_cpu, loft_rss, py_rss))
        log(f"  loft {loft_s:.3f} s (cpu {loft_cpu:.2f} s) {loft_rss / 2**20:.0f} MiB | "
            f"python {py_s:.3f} s (cpu {py_cpu:.2f} s) {py_rss / 2**20:.0f} MiB")

    lines = [
        f"Machine: {benchlib.machine(loft)}.",
        "",
        f"Input: {TENSORS} float32 tensors of {ROWS} x {COLUMNS} (1 GiB), written by safetensors `save_file` "
        "(and `np.savez` for the npz input). Whole processes, page cache warm, median of 3 runs. "
        "Python peer: scripts/bench/io_peer.py (safetensors + numpy).",
        "",
        "| job | loft | Python | speed-up (Python / loft) | loft CPU | Python CPU | CPU ratio | loft peak RSS | Python peak RSS | RSS ratio (Python / loft) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for title, loft_s, py_s, loft_cpu, py_cpu, loft_rss, py_rss in rows:
        lines.append(f"| {title} | {loft_s:.3f} s | {py_s:.3f} s | **{py_s / loft_s:.1f}x** | {loft_cpu:.2f} s | {py_cpu:.2f} s | "
                     f"{py_cpu / max(loft_cpu, 0.005):.1f}x | {benchlib.human_bytes(loft_rss)} | {benchlib.human_bytes(py_rss)} | "
                     f"**{py_rss / loft_rss:.1f}x** |")
    lines += [
        "",
        "Times are wall clock (whole process); CPU is user + system time. Targets: convert at least "
        "4x faster than the Python peer, peak RSS under 1/4 of the peer's. Run with "
        f"{benchlib.load_note()}.",
    ]
    benchlib.write_section("io", "Tensor I/O: inspect and convert (1 GiB checkpoint)", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1] == "--generate":
        generate(*sys.argv[2:4])
    else:
        main(sys.argv[1])
