#!/bin/sh
# vm.plan_apply_*: the issue-15 loop on a program nobody wrote for the plan, in a guest with NUMA
# balancing off. kat_firsttouch (tests/programs) measures its own truth: where its workers ran x
# where the pages they swept were (move_pages), printed as "KAT truth ... remote_share=X".
#   bug  main initialises the 64 MiB array, spread workers sweep their slices: ~50 % (2 nodes) /
#        ~75 % (4 nodes) remote. `numa-analyze apply` records it, plans it and runs it again with the
#        plan: the after run's own truth must be <= 0.10, with no code change; the plan partitions
#        main's allocation.
#   fix  each worker initialises its slice: the plan must be empty and apply exit 0 without a second run.
# Usage: guest_apply.sh BUILD SECONDS
# SECONDS: a TCG guest sweeps ~30x slower than hardware; a 2 s run collects 10-20 watchpoint hits
# on the array, fewer than the plan's 20-access minimum (the plan is then empty and says so).
B=$1
SECS=$2
fail=0
echo 0 > /proc/sys/kernel/numa_balancing || { echo "FAIL cannot switch NUMA balancing off"; exit 1; }
cd /tmp || exit 1

truth_of() {   # the remote_share of the n-th KAT truth line in file $1
  grep "KAT truth" "$1" | sed -n "$2p" | sed 's/.*remote_share=\([0-9.]*\).*/\1/'
}

"$B/numa-analyze" apply --prefix /tmp/bug -- "$B/tests/programs/kat_firsttouch" bug --seconds "$SECS" > /tmp/bug.out 2>&1
rc=$?
before=$(truth_of /tmp/bug.out 1)
after=$(truth_of /tmp/bug.out 2)
policy=$(grep -o '"policy": "[a-z]*"' /tmp/bug.plan.json | head -1)
echo "bug: apply exit $rc, truth before $before, after $after, plan $policy"
grep -E "apply 2/3|^Score|remote_share  " /tmp/bug.out
if [ -z "$after" ] || ! awk -v b="$before" -v a="$after" 'BEGIN { exit !(b >= 0.35 && a <= 0.10) }'; then
  echo "FAIL bug: expected truth >= 0.35 before and <= 0.10 after the plan"
  cat /tmp/bug.out /tmp/bug.plan.json
  fail=1
fi
case "$policy" in *partition*) ;; *) echo "FAIL bug: the plan does not partition main's array"; fail=1 ;; esac
[ "$rc" -eq 0 ] || { echo "FAIL bug: apply exited $rc (1: the plan made the score worse)"; fail=1; }

"$B/numa-analyze" apply --prefix /tmp/fix -- "$B/tests/programs/kat_firsttouch" fix --seconds "$SECS" > /tmp/fix.out 2>&1
rc=$?
echo "fix: apply exit $rc, truth $(truth_of /tmp/fix.out 1)"
grep "Nothing to apply" /tmp/fix.out || { echo "FAIL fix: a well-placed program got a plan"; cat /tmp/fix.out /tmp/fix.plan.json; fail=1; }
[ "$rc" -eq 0 ] || { echo "FAIL fix: apply exited $rc"; fail=1; }
[ "$fail" -eq 0 ] && echo "PASS plan apply"
exit $fail
