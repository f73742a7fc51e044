"""Shared pieces of the benchmark groups (scripts/bench/bench_*.py).

measure(): whole-process wall time, CPU time and peak RSS of a command,
child's own ru_maxrss, KiB on Linux), repeated, median taken. write_section(): replaces the
text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in docs/benchmarks.md
(appending a `## TITLE` section with the markers if absent), so each group owns its part.
"""
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-out"
DOC = ROOT / "docs" / "benchmarks.md"


TIME = "/usr/bin/time"


def run_once(argv):
    """(wall seconds, CPU seconds (user + sys), peak RSS in bytes) of one run.

    Measured by GNU time around the command: a child's ru_maxrss starts from the RSS of the
    process that forked it, so forking from this (numpy-sized) Python process would inflate
    small tools' numbers; GNU time is a few hundred KiB. CPU time is reported beside wall
    time because on a shared machine waiting for a core inflates wall time for both tools.
    """
    report = OUT / ".time-report"
    if os.path.exists(TIME):
        command = [TIME, "-f", "%e %U %S %M", "-o", str(report)] + argv
    else:
        command = argv
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    errors = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {code}: {errors}")
    if command is argv:
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
    elapsed, user, system, rss_kib = report.read_text().split()[-4:]
    report.unlink()
    return float(elapsed), float(user) + float(system), int(rss_kib) * 1024


def measure(argv, repeats=3, before=None):
    """Medians of wall seconds, CPU seconds and peak RSS over `repeats` runs; `before()`
    runs before each."""
    runs = []
    for _ in range(repeats):
        if before:
            before()
        runs.append(run_once([str(a) for a in argv]))
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def warm(*paths):
    """Reads files (or directories' files) once so every run starts from a warm page cache."""
    for path in paths:
        path = pathlib.Path(path)
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                with open(file, "rb") as f:
                    while f.read(1 << 24):
                        pass


def remove(*paths):
    for path in paths:
        path = pathlib.Path(path)
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        elif path.exists():
            path.unlink()


def human_bytes(n):
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def load_note():
    """The load average and CPU pressure while the benchmark ran (a shared machine)."""
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ""
    return f"load average {' '.join(load)} at the end of the run"


def machine(loft_bin):
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
        memory = f"{int(memory) / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
        except Exception:
            return "unknown"
    import numpy
    import safetensors
    return (f"{os.cpu_count()} cores ({cpu}), {memory} RAM, Linux {platform.release()}; "
            f"{version(['swift', '--version'])}; loft {version([str(loft_bin), '--version'])}; "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, safetensors {safetensors.__version__}")


def write_section(name, title, body):
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nMade by `make bench` (scripts/bench.sh); each section is rewritten by its group.\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n{block}\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def log(message):
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    # `benchlib.py section NAME TITLE < body.md`: how scripts/bench.sh files the output of a
    # shell benchmark (scripts/bench-NAME.sh) into its section of docs/benchmarks.md.
    if len(sys.argv) == 4 and sys.argv[1] == "section":
        write_section(sys.argv[2], sys.argv[3], sys.stdin.read())
    else:
        sys.exit("usage: benchlib.py section NAME TITLE < body")
