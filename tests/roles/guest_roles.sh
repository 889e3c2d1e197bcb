#!/bin/sh
# guest_roles.sh: runs inside a 2-node numa-vm guest (nodes {0: cpus 0-1, 1: cpus 2-3}; busybox sh).
# The issue's example as a NUMA_AGENT_CONFIG file, with this guest's CPUs: "one ingest thread per
# node" must land ingest-0 on node 0 and ingest-1 on node 1, in either creation order, and the
# workers on theirs; the same through the launcher's --rules with a CPU expression (M0:0@M1:0).
#   guest_roles.sh BUILD_DIR
set -u
build=$1
role_threads=$build/tests/programs/role_threads
failed=0

node_of_cpu() {  # the node whose cpulist holds CPU $1
  for n in /sys/devices/system/node/node*; do
    list=$(cat "$n/cpulist")
    for part in $(echo "$list" | tr ',' ' '); do
      lo=${part%-*}; hi=${part#*-}
      if [ "$1" -ge "$lo" ] && [ "$1" -le "$hi" ]; then echo "${n##*node}"; return; fi
    done
  done
  echo "?"
}

# expect OUTPUT ROLE INDEX CPUS NODE: the named thread's mask is CPUS, on NODE
expect() {
  got=$(echo "$1" | sed -n "s/^thread role=$2 index=$3 phase=named cpus=\(.*\)$/\1/p")
  node=$(node_of_cpu "${got:-999}")
  if [ "$got" = "$4" ] && [ "$node" = "$5" ]; then
    echo "ok   $2-$3 on cpus $got (node $node)"
  else
    echo "FAIL $2-$3: cpus '$got' (node $node), expected cpus $4 on node $5"; failed=1
  fi
}

config=/tmp/roles.toml
cat > $config <<'TOML'
[threads]
ingest = { count = 2, affinity = [0, 2] }        # one per NUMA node
worker = { count = 2, affinity = [1, 3] }
TOML
for order in "" --reverse; do
  echo "== NUMA_AGENT_CONFIG, the issue's example ${order:-(workers first)}"
  out=$(NUMA_AGENT_CONFIG=$config LD_PRELOAD=$build/libnumaagent.so "$role_threads" $order 2>&1) || { echo "FAIL exit $?"; failed=1; }
  echo "$out" | grep -v '^thread' || true
  expect "$out" ingest 0 0 0
  expect "$out" ingest 1 2 1
  expect "$out" worker 0 1 0
  expect "$out" worker 1 3 1
done
echo "== numa-agent --rules, a CPU expression per node"
out=$("$build/numa-agent" --rules 'ingest start=ingest_loop cpus=M0:0@M1:0 count=2' -- "$role_threads" --workers 0 --ingest 4 2>&1) || { echo "FAIL exit $?"; failed=1; }
expect "$out" ingest 0 0 0
expect "$out" ingest 1 2 1
expect "$out" ingest 2 0 0
expect "$out" ingest 3 2 1
[ $failed = 0 ] && echo "all role checks passed"
exit $failed
