#!/bin/sh
# record_watchpoint_vm.sh BUILD_DIR SCENARIO:SECONDS...: in a multi-node guest with NUMA balancing
# off, `numa-analyze record` each watch_scenario (memory bound with plain MPOL_BIND, so no hint
# faults) and check that `report --format json` takes its locality from watchpoint-sampling and
# that its remote share is within $TOL (default 0.05) of the share the scenario measured itself
# (move_pages x the CPUs its workers ran on). Prints ok/FAIL lines; exit 0 when all passed.
# SCENARIO:SECONDS:known-wrong marks a scenario the analyzer is known to get wrong (the reason is
# where the test is registered): its miss prints XFAIL and does not fail the test; a pass prints
# XPASS (drop the mark).
B=$1; shift
A="$B/numa-analyze"
TOL=${TOL:-0.05}
status=0
echo 0 > /proc/sys/kernel/numa_balancing || { echo "FAIL cannot switch NUMA balancing off"; exit 1; }
for arg in "$@"; do
  s=${arg%%:*}; rest=${arg#*:}; secs=${rest%%:*}
  known_wrong=""; [ "$rest" != "$secs" ] && known_wrong=${rest#*:}
  t0=$(date +%s)
  timeout -s KILL $((secs + 90)) "$A" record -o /tmp/rw-$s.rec -- \
    "$B/tests/analyzer/watch_scenario" "$s" --seconds "$secs" --truth /tmp/rw-$s.truth > /tmp/rw-$s.log 2>&1
  rc=$?
  "$A" report /tmp/rw-$s.rec --format json > /tmp/rw-$s.report 2>> /tmp/rw-$s.log || rc=$?
  truth=$(sed -n 's/.*remote_share=\([-0-9.]*\).*/\1/p' /tmp/rw-$s.truth 2>/dev/null)
  got=$(grep -o '"remote_share": *[-0-9.e]*' /tmp/rw-$s.report | head -n 1 | sed 's/.*: *//')
  "$A" report /tmp/rw-$s.rec > /tmp/rw-$s.txt 2>/dev/null
  rm -f /tmp/rw-$s.rec   # the guest's /tmp is RAM, and node 0's is what `imbalanced` binds to
  src=$(sed -n 's/^ *locality from: *//p' /tmp/rw-$s.txt | head -n 1)
  echo "     $s: $(grep -E '^ *\[(used|not used)\] +watchpoint-sampling' /tmp/rw-$s.txt)"
  sed -n '/^Threads/,/^$/p' /tmp/rw-$s.txt | sed 's/^/     /'
  if [ $rc -ne 0 ] || [ -z "$truth" ] || [ -z "$got" ]; then
    echo "FAIL $s: record/report exited $rc (truth '$truth', reported '$got')"; cat /tmp/rw-$s.log
    dmesg 2>/dev/null | grep -i -E "out of memory|oom-kill" | tail -n 3   # the kernel's word on a killed scenario
    status=1; continue
  fi
  case "$src" in watchpoint-sampling*) ;; *) echo "FAIL $s: locality from '$src', not watchpoint-sampling"; status=1 ;; esac
  if awk -v a="$got" -v b="$truth" -v t="$TOL" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; then
    if [ "$known_wrong" = known-wrong ]; then echo "XPASS $s: reported remote share $got, truth $truth: drop its known-wrong mark"
    else echo "ok   $s: reported remote share $got, truth $truth ($(($(date +%s) - t0)) s)"; fi
  elif [ "$known_wrong" = known-wrong ]; then
    echo "XFAIL $s: reported remote share $got, truth $truth, tolerance $TOL (known wrong)"
  else
    echo "FAIL $s: reported remote share $got, truth $truth, tolerance $TOL"; status=1
  fi
done
exit $status
