#!/bin/sh
# known_answer.sh BUILD_DIR SECONDS SCENARIO[:TOLERANCE]...: in a multi-node guest, record each
# numa_traffic scenario with numa-analyze, report it as JSON and check it against the scenario's
# known answer (remote share within TOLERANCE, default 0.05; the right top recommendation).
# Exit 0 when every scenario passed.
B=$1; S=$2; shift 2
status=0
for arg in "$@"; do
  s=${arg%%:*}
  tol=0.05
  [ "$s" != "$arg" ] && tol=${arg#*:}
  dir=/tmp/ka-$s
  mkdir -p "$dir"
  if ! "$B/numa-analyze" record -o "$dir/rec.json" -- "$B/tests/analyzer/numa_traffic" "$s" --seconds "$S" \
       --truth "$dir/truth.json" > "$dir/record.log" 2>&1; then
    echo "FAIL $s: record failed:"; cat "$dir/record.log"; status=1; continue
  fi
  "$B/numa-analyze" report "$dir/rec.json" --format json -o "$dir/report.json" || { echo "FAIL $s: report failed"; status=1; continue; }
  "$B/tests/analyzer/numa_report_check" "$dir/report.json" "$dir/truth.json" --tolerance "$tol" || {
    status=1
    "$B/numa-analyze" report "$dir/rec.json" | sed -n '1,12p;/^Recommendations/,$p'
  }
done
exit $status
