#!/bin/sh
# watchpoint_vm.sh BUILD_DIR SECONDS SCENARIO[:SECONDS]...: in a multi-node guest with NUMA balancing off,
# run each watch_scenario (memory bound with plain MPOL_BIND) under watchpoint_probe and check the
# watchpoint remote share against the share the scenario measured itself (within $TOL, default
# 0.05). $WP_OPTS passes options to watchpoint_probe (e.g. "--path reopen"). Exit 0 when all passed.
B=$1; S=$2; shift 2
TOL=${TOL:-0.05}
status=0
echo 0 > /proc/sys/kernel/numa_balancing || { echo "FAIL cannot switch NUMA balancing off"; exit 1; }
"$B/tests/analyzer/watchpoint_probe" --self-test || exit $?
for arg in "$@"; do
  s=${arg%%:*}
  secs=$S
  [ "$s" != "$arg" ] && secs=${arg#*:}
  t0=$(date +%s)
  out=$(timeout -s KILL $((${secs%.*} + 60)) "$B/tests/analyzer/watchpoint_probe" $WP_OPTS --json /tmp/wp-$s.json -- \
        "$B/tests/analyzer/watch_scenario" "$s" --seconds "$secs" --truth /tmp/wp-$s.truth 2>&1)
  rc=$?
  echo "$out"
  truth=$(sed -n 's/.*remote_share=\([-0-9.]*\).*/\1/p' /tmp/wp-$s.truth 2>/dev/null)
  got=$(echo "$out" | sed -n 's/^watchpoint_probe remote_share=\([-0-9.]*\).*/\1/p')
  if [ $rc -ne 0 ] || [ -z "$truth" ] || [ -z "$got" ]; then
    echo "FAIL $s: watchpoint_probe exited $rc (truth '$truth', measured '$got')"; status=1; continue
  fi
  if awk -v a="$got" -v b="$truth" -v t="$TOL" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a >= 0 && d <= t) }'; then
    echo "ok   $s: watchpoint remote share $got, truth $truth ($(($(date +%s) - t0)) s)"
  else
    echo "FAIL $s: watchpoint remote share $got, truth $truth, tolerance $TOL"; status=1
  fi
done
exit $status
