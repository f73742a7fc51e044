#!/usr/bin/env bash
# make bench: every benchmark group (scripts/bench/bench_*.py, each `python3 FILE BIN`)
# against the release binary; inputs and outputs in bench-out/ (git-ignored); each group
# rewrites its own section of docs/benchmarks.md. BENCH_GROUPS="io ..." runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
loft=${1:-.build/release/loft}
command -v /usr/bin/time >/dev/null || { SUDO=$( [ "$(id -u)" = 0 ] || echo sudo ); $SUDO apt-get install -y -qq time >/dev/null 2>&1 || echo "bench: GNU time missing, measuring with os.wait4" >&2; }
[ -x "$loft" ] || { echo "bench: $loft is not built (swift build -c release)" >&2; exit 1; }
python3 -c "import numpy, safetensors" 2>/dev/null || { echo "bench: needs python3 with numpy and safetensors" >&2; exit 1; }
mkdir -p bench-out
groups=${BENCH_GROUPS:-$(for f in scripts/bench/bench_*.py; do basename "$f" .py | sed 's/^bench_//'; done)}
for group in $groups; do
    echo "== bench $group"
    python3 "scripts/bench/bench_$group.py" "$loft"
done
