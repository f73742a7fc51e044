#!/bin/bash
# Two "hosts" on one machine: network namespaces joined by a veth pair (10.231.<k>.1 and .2),
# each with its own hostname, and Open MPI's TCP transport between them. Runs the same
# `loft finetune` as one process and as 2 ranks (one per host, launched by mpirun with a
# hostfile and an `ip netns exec` wrapper in place of ssh), checks they agree within the
# stated float32 tolerance (docs/distributed.md), and removes everything it made on exit.
#
#   sudo bash scripts/mpi-netns.sh [path/to/loft]      (default .build/debug/loft)
#
# Needs root, ip (iproute2), unshare (util-linux) and Open MPI's mpirun. Exit 0 and a line
# "equivalent: ..." when the runs agree.

set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
loft=$(realpath "${1:-$root/.build/debug/loft}")
for tool in ip unshare mpirun python3; do command -v $tool >/dev/null || { echo "mpi-netns: needs $tool" >&2; exit 2; }; done
[ "$(id -u)" = 0 ] || { echo "mpi-netns: needs root (ip netns)" >&2; exit 2; }

tag=$$
net=$(( tag % 200 + 20 ))
a=loftmpi-a-$tag; b=loftmpi-b-$tag
ha=10.231.$net.1; hb=10.231.$net.2
work=$(mktemp -d /tmp/loft-mpi-netns.XXXXXX)
cleanup() {
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$a"
ip netns add "$b"
ip link add "lm$tag-a" type veth peer name "lm$tag-b"
ip link set "lm$tag-a" netns "$a"
ip link set "lm$tag-b" netns "$b"
ip -n "$a" addr add "$ha/24" dev "lm$tag-a"
ip -n "$b" addr add "$hb/24" dev "lm$tag-b"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "lm$tag-a" up
ip -n "$b" link set "lm$tag-b" up

# mpirun's "ssh": AGENT HOST COMMAND... runs COMMAND in HOST's namespace, under its own
# hostname (Open MPI tells nodes apart by name; the namespaces share the machine's).
cat > "$work/agent.sh" <<AGENT
#!/bin/bash
host=\$1; shift
while [ "\${1:-}" = "-x" ] || [ "\${1:-}" = "-T" ]; do shift; done
case \$host in $ha) ns=$a; name=hosta;; $hb) ns=$b; name=hostb;; *) echo "agent: unknown host \$host" >&2; exit 1;; esac
exec ip netns exec \$ns unshare --uts /bin/sh -c "hostname \$name; \$*"
AGENT
chmod +x "$work/agent.sh"
printf '%s slots=1\n%s slots=1\n' "$ha" "$hb" > "$work/hosts"

fixtures=$root/fixtures
args=(finetune --base "$fixtures/training/gpt2" --data "$fixtures/training/tokens.npy" --eval-fraction 0.1
      --steps 4 --batch 4 --seq 16 --eval-interval 2)
"$loft" "${args[@]}" --out "$work/one" >/dev/null 2>&1

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# mpirun itself starts on host a (under hostname hosta) and reaches host b's daemon and rank
# over the veth pair: TCP for the ranks' messages (btl tcp) and for the launch (oob).
launch() {
    ip netns exec "$a" unshare --uts /bin/sh -c "hostname hosta; exec mpirun -np 2 --hostfile '$work/hosts' \
        --mca plm_rsh_agent '$work/agent.sh' --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self --mca btl_tcp_if_include $ha/24 --mca oob_tcp_if_include $ha/24 \
        --bind-to none -x PATH -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM $*"
}
hosts=$(launch hostname | sort | tr '\n' ' ')
echo "ranks run on: $hosts"
[ "$hosts" = "hosta hostb " ] || { echo "mpi-netns: expected one rank on each of hosta, hostb" >&2; exit 1; }
launch "'$loft'" "${args[*]@Q}" --out "'$work/two'" > "$work/two.out" 2> "$work/two.err" \
    || { cat "$work/two.err" >&2; echo "mpi-netns: the 2-rank run failed" >&2; exit 1; }
grep -q "2 MPI ranks" "$work/two.out" || { cat "$work/two.out"; echo "mpi-netns: the run did not use 2 ranks" >&2; exit 1; }

python3 - "$work/one/log.jsonl" "$work/two/log.jsonl" <<'PY'
import json, sys
one, two = ([json.loads(line) for line in open(path)] for path in sys.argv[1:3])
worst = max(abs(x[k] - y[k]) / abs(x[k]) for x, y in zip(one, two) for k in ("loss", "eval_loss") if x[k] is not None)
assert [x["step"] for x in one] == [y["step"] for y in two], "different steps"
print(f"losses: max relative difference {worst:.3g} (bound 1e-5)")
sys.exit(0 if worst <= 1e-5 else 1)
PY
adapter=$( ("$loft" diff "$work/two" "$work/one" --atol 0 --rtol 0 --json || true) | python3 -c '
import json, sys; print(max(m["relative"] for m in json.load(sys.stdin)["modules"]))')
python3 -c "import sys; sys.exit(0 if $adapter <= 1e-3 else 1)" || { echo "mpi-netns: adapters differ by $adapter" >&2; exit 1; }
echo "equivalent: 2 ranks on two network namespaces over TCP ($ha, $hb) = 1 process; adapter max relative difference $adapter (bound 1e-3)"
