#!/bin/sh
# known_answer.sh BUILD_DIR SECONDS SCENARIO[:TOLERANCE]...: in a multi-node guest, record each
# numa_traffic scenario with numa-analyze, report it as JSON and check it against the scenario's
# known answer with numa_report_check (remote share within TOLERANCE, default 0.05, 1 = not
# checked; the right top recommendation; complete evidence). Exit 0 when every scenario passed.
#
# Each scenario works for at least SECONDS and $SCANS paced NUMA-balancing scans (the generator
# switches NUMA balancing off after each scan until every thread has swept its memory once, see
# numa_traffic.cpp): the evidence is the same whether the guest runs fast or slowly on a busy
# host, only the time differs.
# Every step is bounded: the generator ends itself within $DEADLINE s, and `timeout` kills any
# step that outlives its bound, so a stuck step is a FAIL line, never a hung guest.
B=$1; S=$2; shift 2
MIB=16         # per array: 4096 pages, each hint-faulted once per paced scan; the few pages of
               # stacks and libraries (local faults) then dilute a share by under 1 point
SCANS=2
DEADLINE=$((${S%.*} + 90))
status=0
balancing=$(cat /proc/sys/kernel/numa_balancing)
for arg in "$@"; do
  s=${arg%%:*}
  tol=0.05
  [ "$s" != "$arg" ] && tol=${arg#*:}
  dir=/tmp/ka-$s
  mkdir -p "$dir"; rm -f "$dir/truth.json"
  t0=$(date +%s)
  echo "$balancing" > /proc/sys/kernel/numa_balancing   # as the guest booted, whatever a killed run left
  timeout -s KILL $((DEADLINE + 30)) "$B/numa-analyze" record -o "$dir/rec.json" -- \
    "$B/tests/analyzer/numa_traffic" "$s" --seconds "$S" --mib $MIB --scans $SCANS --deadline $DEADLINE \
    --truth "$dir/truth.json" > "$dir/record.log" 2>&1
  rc=$?
  grep '^numa_traffic' "$dir/record.log"
  if [ $rc -ne 0 ] || [ ! -s "$dir/truth.json" ]; then
    [ $rc -eq 137 ] && why="numa-analyze record was killed after $((DEADLINE + 30)) s" || why="record exited $rc"
    echo "FAIL $s: $why (or the generator wrote no truth):"; cat "$dir/record.log"; status=1; continue
  fi
  if ! timeout -s KILL 60 "$B/numa-analyze" report "$dir/rec.json" --format json -o "$dir/report.json"; then
    echo "FAIL $s: numa-analyze report failed or took over 60 s"; status=1; continue
  fi
  if ! timeout -s KILL 30 "$B/tests/analyzer/numa_report_check" "$dir/report.json" "$dir/truth.json" --tolerance "$tol"; then
    status=1
    timeout -s KILL 60 "$B/numa-analyze" report "$dir/rec.json" | sed -n '1,8p;/^Threads/,/^$/p;/^Top mappings/,/^$/p;/^Recommendations/,$p'
  fi
  echo "     $s took $(($(date +%s) - t0)) s (record, report, check)"
  rm -f "$dir/rec.json"   # the guest's /tmp is RAM
done
exit $status
