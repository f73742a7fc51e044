#!/usr/bin/env bash
# make bench: every benchmark group against the release binary; inputs and outputs in
# bench-out/ (git-ignored); each group rewrites its own section of docs/benchmarks.md.
#   scripts/bench/bench_NAME.py BIN   writes its section itself (benchlib.write_section)
#   scripts/bench-NAME.sh BIN         prints markdown; filed here under section NAME
# BENCH_GROUPS="io optimizer" runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
loft=${1:-.build/release/loft}
command -v /usr/bin/time >/dev/null || { SUDO=$( [ "$(id -u)" = 0 ] || echo sudo ); $SUDO apt-get install -y -qq time >/dev/null 2>&1 || echo "bench: GNU time missing, measuring with os.wait4" >&2; }
[ -x "$loft" ] || { echo "bench: $loft is not built (swift build -c release)" >&2; exit 1; }
python3 -c "import numpy, safetensors" 2>/dev/null || { echo "bench: needs python3 with numpy and safetensors" >&2; exit 1; }
mkdir -p bench-out
groups=${BENCH_GROUPS:-$( (for f in scripts/bench/bench_*.py; do basename "$f" .py | sed 's/^bench_//'; done
                          for f in scripts/bench-*.sh; do [ -e "$f" ] && basename "$f" .sh | sed 's/^bench-//'; done) | sort -u)}
# A group that fails is reported and the others still run; the exit status says so.
failed=""
for group in $groups; do
    echo "== bench $group"
    if [ -f "scripts/bench/bench_$group.py" ]; then
        python3 "scripts/bench/bench_$group.py" "$loft" || failed="$failed $group"
    elif body=$(bash "scripts/bench-$group.sh" "$loft"); then
        echo "$body"
        title="$(echo "${group:0:1}" | tr a-z A-Z)${group:1}"
        printf '%s\n' "$body" | python3 scripts/bench/benchlib.py section "$group" "$title"
    else
        failed="$failed $group"
    fi
done
if [ -n "$failed" ]; then
    echo "bench: failed:$failed" >&2
    exit 1
fi
