#!/bin/sh
# launcher_vm.sh LAUNCHER THREAD_REPORT, in a multi-node guest (busybox sh): numa-agent -p lists
# every node as an M domain with the CPUs sysfs gives it; -c M1:0-1 puts every thread on node 1;
# -c M:scatter alternates the nodes thread by thread. Prints ok/FAIL lines; exit 0 when all pass.
L=$1 T=$2
status=0
ok() { echo "ok    $1"; }
fail() { echo "FAIL  $1"; status=1; }

# "0-1,4" -> "0,1,4"
expand() { echo "$1" | tr , '\n' | awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); ++c) printf "%s%d", (n++ ? "," : ""), c } END { print "" }'; }

"$L" -p > /tmp/domains || fail "-p exited $?"
cat /tmp/domains
nodes=0
for d in /sys/devices/system/node/node[0-9]*; do
  k=${d##*node}
  want=$(expand "$(cat "$d/cpulist")")
  got=$(sed -n "/^Domain M$k:/{n;p}" /tmp/domains | tr -d '\t')
  if [ "$got" = "$want" ]; then ok "-p: M$k = $got (sysfs node$k cpulist)"; else fail "-p: M$k is '$got', sysfs says '$want'"; fi
  nodes=$((nodes + 1))
done
[ "$nodes" -ge 2 ] || fail "the guest has $nodes node(s)"

"$L" -c M1:0-1 -- "$T" --threads 4 > /tmp/m1 || fail "-c M1:0-1 exited $?"
lines=$(grep -c '^thread ordinal=' /tmp/m1)
off=$(grep '^thread ordinal=' /tmp/m1 | grep -vc ' node=1 ')
if [ "$lines" -eq 5 ] && [ "$off" -eq 0 ]; then ok "-c M1:0-1: all $lines threads on node 1"; else fail "-c M1:0-1: $off of $lines threads off node 1"; cat /tmp/m1; fi

"$L" -c M:scatter -- "$T" --threads 3 > /tmp/scatter || fail "-c M:scatter exited $?"
wrong=$(sed -n 's/^thread ordinal=\([0-9]*\) .* node=\([0-9]*\) .*/\1 \2/p' /tmp/scatter | awk -v n="$nodes" '$2 != $1 % n' | wc -l)
if [ "$wrong" -eq 0 ] && [ "$(grep -c '^thread ordinal=' /tmp/scatter)" -eq 4 ]; then ok "-c M:scatter: thread k on node k mod $nodes"; else fail "-c M:scatter: $wrong threads on the wrong node"; cat /tmp/scatter; fi
exit $status
