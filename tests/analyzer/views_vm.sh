#!/bin/sh
# views_vm.sh BUILD_DIR: the views of numa-analyze in a 2-node guest, on real recordings.
# record all-remote (before) and all-local (after) numa_traffic runs; compare them (the score
# rises, recommendations are resolved, the gates' exit statuses); report --format prometheus
# (its score equals the JSON report's) and --format html (a heat-map cell per thread and node);
# top --plain on a live program (its threads, both nodes, the hopping thread's migrations) and on
# one that exits.
# Prints ok/FAIL lines; exit 0 when every check passed.
B=$1
A="$B/numa-analyze"
T="$B/tests/analyzer/numa_traffic"
status=0
ok() { echo "ok    $1"; }
fail() { echo "FAIL  $1"; status=1; }
check() { if eval "$1"; then ok "$2"; else fail "$2"; fi; }

for s in all-remote all-local; do
  timeout -s KILL 200 "$A" record -o /tmp/$s.rec -- "$T" $s --seconds 4 --mib 8 --scans 2 --deadline 120 > /tmp/$s.log 2>&1
  check "[ $? -eq 0 ]" "record $s"
done

# ---- compare ----
"$A" compare /tmp/all-remote.rec /tmp/all-local.rec --format json > /tmp/cmp.json
check "[ $? -eq 0 ]" "compare exits 0"
before=$(grep -A3 '^  "score": {' /tmp/cmp.json | sed -n 's/^ *"before": \([0-9.]*\).*/\1/p')
after=$(grep -A3 '^  "score": {' /tmp/cmp.json | sed -n 's/^ *"after": \([0-9.]*\).*/\1/p')
echo "      score before $before, after $after"
check "awk -v b='$before' -v a='$after' 'BEGIN { exit !(b != \"\" && a != \"\" && a - b > 30) }'" "compare: the score rises by more than 30 points"
check "grep -q '\"kind\": \"colocate\"' /tmp/cmp.json" "compare: a colocate recommendation is resolved"
"$A" compare /tmp/all-remote.rec /tmp/all-local.rec | sed -n '/^Score/,/^$/p'
"$A" compare /tmp/all-local.rec /tmp/all-remote.rec --fail-if-worse 5 > /dev/null 2> /tmp/gate.err
check "[ $? -eq 1 ] && grep -q 'dropped by' /tmp/gate.err" "compare --fail-if-worse 5 on a regression exits 1"
"$A" compare /tmp/all-remote.rec /tmp/all-local.rec --fail-below 50 --fail-if-worse 0 > /dev/null
check "[ $? -eq 0 ]" "compare gates pass on the improvement"

# ---- prometheus and html ----
"$A" report /tmp/all-remote.rec --format json > /tmp/before.json
"$A" report /tmp/all-remote.rec --format prometheus > /tmp/before.prom
check "[ $? -eq 0 ]" "report --format prometheus exits 0"
json_score=$(sed -n 's/^  "score": \([0-9.]*\),$/\1/p' /tmp/before.json)
prom_score=$(sed -n 's/^numa_agent_score{program="numa_traffic"} //p' /tmp/before.prom)
check "[ -n '$json_score' ] && [ -n '$prom_score' ] && awk 'BEGIN { exit !($json_score == $prom_score) }'" "prometheus score $prom_score equals the JSON report's $json_score"
check "grep -q '^numa_agent_node_resident_bytes{program=\"numa_traffic\",node=\"1\"} ' /tmp/before.prom" "prometheus: per-node series for node 1"
"$A" report /tmp/all-remote.rec --format html -o /tmp/before.html
rc=$?
threads=$(grep -c '"tid":' /tmp/before.json)
cells=$(grep -o 'class="cell"' /tmp/before.html | wc -l)
check "[ $rc -eq 0 ] && [ $cells -eq \$(($threads * 2)) ] && [ $cells -gt 0 ]" "html: $cells heat-map cells for $threads threads x 2 nodes"

# ---- top ----
"$T" migrating --seconds 12 --mib 8 --deadline 60 > /dev/null 2>&1 &
P=$!
sleep 1
timeout -s KILL 60 "$A" top -p $P --plain --interval 1 --iterations 4 > /tmp/top.out
check "[ $? -eq 0 ]" "top --plain --iterations 4 exits 0"
check "[ \$(grep -c '^numa-analyze top - PID $P ' /tmp/top.out) -eq 4 ]" "top: 4 blocks"
check "grep -q ' 3 threads ' /tmp/top.out" "top: the program's 3 threads"
check "grep -q '^0     0-1 ' /tmp/top.out && grep -q '^1     2-3 ' /tmp/top.out" "top: per-node rows for node 0 (CPUs 0-1) and node 1 (CPUs 2-3)"
migr=$(awk '/TID NAME/ { t = 1; next } /^$/ { t = 0 } t && $1 ~ /^[0-9]+$/ && $6 > m { m = $6 } END { print m + 0 }' /tmp/top.out)
check "[ $migr -ge 2 ]" "top: the hopping thread's node migrations are counted ($migr)"
sed -n '/^numa-analyze top/{h;d};H;${x;p}' /tmp/top.out | head -14
kill $P 2>/dev/null; wait $P 2>/dev/null
"$T" all-local --seconds 2 --mib 4 --deadline 30 > /dev/null 2>&1 &
P=$!
timeout -s KILL 60 "$A" top -p $P --plain --interval 0.5 > /dev/null 2> /tmp/top.err
check "[ $? -eq 0 ] && grep -qx 'numa-analyze: process $P exited' /tmp/top.err" "top ends with 'process $P exited' when the program exits"
exit $status
